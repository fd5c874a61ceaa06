//! `/metrics` on the namenode and a datanode, parsed as Prometheus text:
//! the RPC counters and the datanode's byte counters move after a put and
//! a get.

#![allow(clippy::unwrap_used)]

use cairn_client::CreateOptions;
use cairn_tests::http::{get, parse_prometheus};
use cairn_tests::{ClusterOptions, MiniCluster, random_bytes, superuser};

/// The value of the one series whose name and labels contain every part of
/// `wanted`; 0 when there is none yet (a counter not yet touched).
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    parse_prometheus(text)
        .unwrap()
        .into_iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name) && labels.iter().all(|l| series.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

fn scrape(addr: &str) -> String {
    let response = get(&format!("http://{addr}/metrics")).unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    response.text()
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_move_after_a_put_and_a_get() {
    let cluster = MiniCluster::start(ClusterOptions {
        datanodes: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let nn = cluster.namenode_http().to_string();
    let datanodes: serde_json::Value =
        serde_json::from_slice(&get(&format!("http://{nn}/api/v1/datanodes")).unwrap().body)
            .unwrap();
    let dn = datanodes[0]["http_address"].as_str().unwrap().to_string();

    let create = [
        "service=\"ClientProtocol\"",
        "method=\"Create\"",
        "code=\"0\"",
    ];
    let locations = ["service=\"ClientProtocol\"", "method=\"GetBlockLocations\""];
    let nn_before = scrape(&nn);
    let dn_before = scrape(&dn);
    assert_eq!(value(&nn_before, "cairn_rpc_calls_total", &create), 0.0);
    assert_eq!(
        value(&nn_before, "cairn_datanodes", &["state=\"live\""]),
        1.0
    );

    let data = random_bytes(300_000, 7);
    let client = cluster.client(&superuser()).await.unwrap();
    let mut writer = client
        .create("/m.bin", CreateOptions::default())
        .await
        .unwrap();
    writer.write(&data).await.unwrap();
    writer.close().await.unwrap();
    let reader = client.open("/m.bin").await.unwrap();
    let mut back = vec![0u8; data.len()];
    reader.read_fully_at(0, &mut back).await.unwrap();
    assert_eq!(back, data);

    let nn_after = scrape(&nn);
    assert_eq!(value(&nn_after, "cairn_rpc_calls_total", &create), 1.0);
    assert!(value(&nn_after, "cairn_rpc_calls_total", &locations) >= 1.0);
    assert!(
        value(
            &nn_after,
            "cairn_rpc_duration_seconds_count",
            &["method=\"Create\""]
        ) >= 1.0,
        "{nn_after}"
    );
    assert!(value(&nn_after, "cairn_editlog_sync_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(value(&nn_after, "cairn_blocks", &["state=\"total\""]), 1.0);
    assert!(
        value(
            &nn_after,
            "cairn_rpc_calls_total",
            &["method=\"RegisterDatanode\""]
        ) >= 1.0
    );

    let dn_after = scrape(&dn);
    let written = value(&dn_after, "cairn_datanode_bytes_written_total", &[])
        - value(&dn_before, "cairn_datanode_bytes_written_total", &[]);
    let read = value(&dn_after, "cairn_datanode_bytes_read_total", &[])
        - value(&dn_before, "cairn_datanode_bytes_read_total", &[]);
    assert_eq!(written, data.len() as f64, "{dn_after}");
    assert!(read >= data.len() as f64, "{dn_after}");
    assert!(
        value(
            &dn_after,
            "cairn_rpc_calls_total",
            &["method=\"WriteBlock\""]
        ) >= 1.0
    );
    assert_eq!(value(&dn_after, "cairn_datanode_replicas", &[]), 1.0);
}
