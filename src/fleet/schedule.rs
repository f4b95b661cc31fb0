//! Runs jobs at most `parallel` at a time, never two of the same rate limit group at once (AWS
//! limits Cloud Control per account and region, ARM reads per subscription and principal: two
//! children sharing one limit would only throttle each other). Jobs start in order, skipping over
//! those whose group is busy; a failing job never stops the others, and a job that panics still
//! has its place in the results, so no child can go missing from a fleet's table.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use tokio::task::{Id, JoinError, JoinSet};

/// Runs `job` for each `(group, item)`; results come back in the items' order, one per item: the
/// job's result, or why it ended without one (its panic).
pub async fn run<T, R, F, Fut>(
    items: Vec<(String, T)>,
    parallel: usize,
    job: F,
) -> Vec<Result<R, String>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let parallel = parallel.max(1);
    let n = items.len();
    let mut pending: Vec<Option<(String, T)>> = items.into_iter().map(Some).collect();
    let mut results: Vec<Option<Result<R, String>>> = (0..n).map(|_| None).collect();
    let mut busy: HashSet<String> = HashSet::new();
    let mut running: JoinSet<R> = JoinSet::new();
    // Which item and group each running task is, so a task that panics still frees its group
    // and gets its row.
    let mut tasks: HashMap<Id, (usize, String)> = HashMap::new();
    loop {
        while running.len() < parallel {
            let next = pending
                .iter()
                .position(|p| p.as_ref().is_some_and(|(g, _)| !busy.contains(g)));
            let Some(i) = next else { break };
            let (group, item) = pending[i].take().expect("pending");
            busy.insert(group.clone());
            let handle = running.spawn(job(item));
            tasks.insert(handle.id(), (i, group));
        }
        let Some(done) = running.join_next_with_id().await else {
            break;
        };
        let (id, result) = match done {
            Ok((id, r)) => (id, Ok(r)),
            Err(e) => (e.id(), Err(lost(e))),
        };
        let (i, group) = tasks.remove(&id).expect("every task is recorded");
        busy.remove(&group);
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Why a job ended without a result: its panic message.
fn lost(e: JoinError) -> String {
    if !e.is_panic() {
        return "its task was cancelled".into();
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    format!("it panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test]
    async fn never_two_of_a_group_and_never_more_than_parallel() {
        let items: Vec<(String, usize)> =
            [("a", 0), ("a", 1), ("b", 2), ("c", 3), ("a", 4), ("b", 5)]
                .into_iter()
                .map(|(g, i)| (g.to_string(), i))
                .collect();
        let groups: Vec<String> = items.iter().map(|(g, _)| g.clone()).collect();
        let live: Arc<Mutex<Vec<String>>> = Arc::default();
        let peak = Arc::new(Mutex::new(0usize));
        let out = run(items, 2, |i| {
            let live = live.clone();
            let peak = peak.clone();
            let g = groups[i].clone();
            async move {
                {
                    let mut l = live.lock().unwrap();
                    assert!(!l.contains(&g), "two jobs of group {g} at once");
                    l.push(g.clone());
                    let mut p = peak.lock().unwrap();
                    *p = (*p).max(l.len());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                live.lock().unwrap().retain(|x| x != &g);
                i * 10
            }
        })
        .await;
        let out: Vec<usize> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50]);
        assert_eq!(*peak.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_keeps_its_row_and_frees_its_group() {
        let items: Vec<(String, usize)> = [("a", 0), ("a", 1), ("b", 2)]
            .into_iter()
            .map(|(g, i)| (g.to_string(), i))
            .collect();
        let out = run(items, 1, |i| async move {
            if i == 0 {
                panic!("child 0 broke");
            }
            i
        })
        .await;
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0], Err("it panicked: child 0 broke".to_string()));
        // The group of the panicked job ran its next job.
        assert_eq!(out[1], Ok(1));
        assert_eq!(out[2], Ok(2));
    }
}
