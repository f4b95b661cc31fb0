//! Runs jobs at most `parallel` at a time, never two of the same rate limit group at once (AWS
//! limits Cloud Control per account and region, ARM reads per subscription and principal: two
//! children sharing one limit would only throttle each other). Jobs start in order, skipping over
//! those whose group is busy; a failing job never stops the others.

use std::collections::HashSet;
use std::future::Future;

use tokio::task::JoinSet;

/// Runs `job` for each `(group, item)`; results come back in the items' order.
pub async fn run<T, R, F, Fut>(items: Vec<(String, T)>, parallel: usize, job: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let parallel = parallel.max(1);
    let n = items.len();
    let mut pending: Vec<Option<(String, T)>> = items.into_iter().map(Some).collect();
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let mut busy: HashSet<String> = HashSet::new();
    let mut running: JoinSet<(usize, String, R)> = JoinSet::new();
    loop {
        while running.len() < parallel {
            let next = pending
                .iter()
                .position(|p| p.as_ref().is_some_and(|(g, _)| !busy.contains(g)));
            let Some(i) = next else { break };
            let (group, item) = pending[i].take().expect("pending");
            busy.insert(group.clone());
            let fut = job(item);
            running.spawn(async move { (i, group, fut.await) });
        }
        match running.join_next().await {
            None => break,
            Some(Ok((i, group, r))) => {
                busy.remove(&group);
                results[i] = Some(r);
            }
            // A job that panicked: its group is freed when the set is empty; report what we have.
            Some(Err(e)) => {
                tracing::error!("a fleet job failed: {e}");
                if running.is_empty() {
                    busy.clear();
                }
            }
        }
    }
    results.into_iter().flatten().collect()
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
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50]);
        assert_eq!(*peak.lock().unwrap(), 2);
    }
}
