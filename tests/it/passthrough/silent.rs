//! An upstream that accepts connections and never answers: the real shape of a hung InfluxDB
//! (a listener whose accepted sockets are held open, unread, until the test ends).

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A listener on 127.0.0.1 that holds every connection open and says nothing.
pub struct Silent {
    port: u16,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    pub fn start() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let h = held.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                h.lock().expect("lock").push(c);
            }
        });
        Silent { port, _held: held }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
