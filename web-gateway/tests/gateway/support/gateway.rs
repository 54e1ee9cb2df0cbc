//! The real gateway on a loopback port, linked to a core, and what a browser
//! does there before it has a session: the join form, plain GETs and POSTs.

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use hyper::{Request, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use web_gateway::{AppState, config::Args, link::LinkConfig};

use super::{
    TOKEN, WAIT,
    browser::Web,
    http::{Resp, full, send, send_from},
};

/// A gateway serving in this test's runtime until dropped.
pub struct Gateway {
    /// Where browsers reach it.
    pub addr: SocketAddr,
    /// Its shared state, for tests that look inside (session counts, retries).
    pub state: AppState,
    /// Stops the HTTP server and the link when the test drops the gateway.
    shutdown: CancellationToken,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Gateway {
    /// Linked to the core at `core`, with test options; waits until the link
    /// is up.
    pub async fn start(core: SocketAddr) -> Gateway {
        Gateway::start_with(core, |_| {}).await
    }

    /// With options changed by `tweak`; waits until the link is up.
    pub async fn start_with(core: SocketAddr, tweak: impl FnOnce(&mut Args)) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut args = Args {
            http: addr,
            reconnect_min: Duration::from_millis(20),
            reconnect_max: Duration::from_millis(200),
            ..Default::default()
        };
        tweak(&mut args);
        let link = LinkConfig {
            addr: core.to_string(),
            token: TOKEN.to_string(),
            backoff_min: args.reconnect_min,
            backoff_max: args.reconnect_max,
            ping_every: Duration::from_secs(5),
        };
        let shutdown = CancellationToken::new();
        let state = web_gateway::start(args, link, &shutdown).expect("gateway state");
        // The binary's own serving loop, so its HTTP limits are what is tested.
        tokio::spawn(web_gateway::serve_state(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        assert!(
            state.link.wait_up(WAIT).await,
            "gateway link did not come up"
        );
        Gateway {
            addr,
            state,
            shutdown,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Joins through the join page like a browser; panics unless it works.
    pub async fn join(&self, name: &str) -> Web {
        self.join_from("127.0.0.1", &[], name).await
    }

    /// The join form posted from the loopback address `from`, with extra
    /// headers; the answer as it is.
    pub async fn try_join_from(&self, from: &str, headers: &[(&str, &str)], name: &str) -> Resp {
        let mut req = Request::post("/join")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.origin());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        send_from(
            from,
            self.addr,
            req,
            full(Bytes::from(format!("name={name}"))),
        )
        .await
    }

    /// [`Gateway::join`] from the loopback address `from`, with extra headers.
    pub async fn join_from(&self, from: &str, headers: &[(&str, &str)], name: &str) -> Web {
        let resp = self.try_join_from(from, headers, name).await;
        assert_eq!(
            resp.status,
            StatusCode::SEE_OTHER,
            "join {name}: {}",
            resp.text()
        );
        assert_eq!(resp.header("location"), Some("/chat"));
        let set_cookie = resp
            .header("set-cookie")
            .expect("a session cookie")
            .to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attr), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let page = self.get("/chat", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = extract_csrf(&page.text());
        Web {
            name: name.to_string(),
            cookie,
            csrf,
            addr: self.addr,
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Resp {
        let mut req = Request::get(path);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        send(self.addr, req, full(Bytes::new())).await
    }

    pub async fn post_form(&self, path: &str, cookie: Option<&str>, body: &str) -> Resp {
        let mut req = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.origin());
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        send(self.addr, req, full(Bytes::from(body.to_string()))).await
    }
}

fn extract_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[at..at + 32].to_string()
}
