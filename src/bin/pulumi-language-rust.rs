//! The Pulumi language host for `runtime: rust`; everything lives in [`cloud_import::langhost`].

fn main() -> std::process::ExitCode {
    cloud_import::langhost::main()
}
