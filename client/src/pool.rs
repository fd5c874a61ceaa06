//! Clients by (namenode, user), for servers that act for many users: the
//! HTTP gateways (WebHDFS on the namenode and the datanodes) run each
//! request as its `user.name`, over the same ClientProtocol as any client.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::{ClientConfig, DfsClient, Result};

/// Users (and namenodes) a pool keeps clients for; past this it starts
/// afresh, so a stream of made-up user names cannot grow it without bound.
const MAX_CLIENTS: usize = 1024;

/// A cache of connected clients; clones of a [`DfsClient`] are cheap, so
/// callers get their own clone.
#[derive(Default)]
pub struct ClientPool {
    clients: Mutex<HashMap<(String, String), DfsClient>>,
}

impl ClientPool {
    /// A client of `namenode` acting as `user`, connected on first use.
    pub async fn get(&self, namenode: &str, user: &str) -> Result<DfsClient> {
        let key = (namenode.to_string(), user.to_string());
        if let Some(client) = self.clients.lock().get(&key) {
            return Ok(client.clone());
        }
        let client = DfsClient::connect(ClientConfig::new(namenode, user)).await?;
        let mut clients = self.clients.lock();
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        Ok(clients.entry(key).or_insert(client).clone())
    }
}
