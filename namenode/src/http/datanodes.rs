//! The datanodes page (`/datanodes`): HDFS's "Datanode Information".

use axum::extract::State;
use axum::response::Html;

use super::Ctx;
use super::html::{escape, page as frame, size, table, time};
use super::snapshot::DatanodeRow;

pub(crate) async fn page(State(ctx): Ctx) -> Html<String> {
    Html(render(&ctx.snapshot().datanodes))
}

pub fn render(nodes: &[DatanodeRow]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|d| {
            let address = match &d.http_address {
                Some(http) => format!(
                    "<a href=\"http://{}/\">{}</a>",
                    escape(http),
                    escape(&d.address)
                ),
                None => escape(&d.address),
            };
            vec![
                address,
                escape(&d.rack),
                format!("<span class=\"{0}\">{0}</span>", d.state),
                d.admin_state.to_string(),
                time(d.last_heartbeat_ms),
                size(d.capacity),
                size(d.used),
                size(d.remaining),
                d.blocks.to_string(),
                d.failed_volumes.to_string(),
            ]
        })
        .collect();
    let body = table(
        &[
            "Address",
            "Rack",
            "State",
            "Admin state",
            "Last heartbeat (UTC)",
            "Capacity",
            "Used",
            "Remaining",
            "Blocks",
            "Failed volumes",
        ],
        &rows,
    );
    frame("Datanodes", true, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_link_to_the_datanode_page_and_escape() {
        let row = DatanodeRow {
            uuid: "u".into(),
            address: "<h>:1".into(),
            http_address: Some("h:2".into()),
            rack: "/r<1>".into(),
            state: "dead",
            admin_state: "normal",
            last_heartbeat_ms: 0,
            capacity: 2048,
            used: 0,
            remaining: 2048,
            blocks: 3,
            failed_volumes: 0,
        };
        let page = render(&[row]);
        assert!(page.contains("<a href=\"http://h:2/\">&lt;h&gt;:1</a>"));
        assert!(page.contains("/r&lt;1&gt;"));
        assert!(page.contains("<span class=\"dead\">dead</span>"));
        assert!(page.contains("2.0 KiB"));
    }
}
