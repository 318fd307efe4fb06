//! `--url`: the bench measures a server it did not start, found through the same
//! configuration file the server reads.

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measures_a_running_server_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nrate_limits = \"off\"\nlog = \"error\"\n\
             argon2_memory_kib = 8192\nargon2_iterations = 1\nhash_concurrency = 2\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let config = portcullis::Config::load(Some(&file)).unwrap();
    let app = portcullis::App::build(config).await.unwrap();
    let url = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));

    let out = dir.path().join("bench.json");
    let mut bench = Command::new(env!("CARGO_BIN_EXE_portcullis-bench"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")) {
        bench.env_remove(k);
    }
    let run = tokio::task::spawn_blocking(move || {
        bench
            .args(["--url", &url, "--config"])
            .arg(&file)
            .args(["--pid", &std::process::id().to_string()])
            .args(["--rounds", "1", "--secs", "0.3", "--large", "3000", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(
        table.contains("argon2id m=8192 KiB t=1 p=1, 2 hashing permits"),
        "{table}"
    );

    let figures: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
    let median = |name: &str| {
        figures
            .iter()
            .find(|f| f["figure"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {figures:?}"))["median"]
            .as_f64()
            .unwrap()
    };
    assert!(figures.iter().all(|f| f["backend"] == "sqlite"));
    assert!(median("login/s (16 clients)") > 0.0);
    assert!(median("register/s (16 clients)") > 0.0);
    assert_eq!(median("register answers not 2xx"), 0.0);
    assert!(median("GET /v1/users/me req/s (64 clients)") > 0.0);
    assert!(
        median("CPU ms per login: server process") > 0.0,
        "read through --pid"
    );
    assert!(median("login p99 ms, 3000 users vs 1000") > 0.0);
    assert!(figures
        .iter()
        .any(|f| f["figure"] == "peak RSS over base, login flood of 10x permits (MiB)"));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
