//! Helpers shared by the tests: signing raw requests and running the `haneul` binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;

/// Who signs and how: SigV4 over the Authorization header, or presigned in the query.
pub struct Signer<'a> {
    pub key: &'a str,
    pub secret: &'a str,
    pub service: &'a str,
    pub presign: bool,
    pub at: SystemTime,
}

/// A signed request: the headers and path+query to send.
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub path: String,
}

impl Signed {
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

impl<'a> Signer<'a> {
    /// Header signing, now.
    pub fn new(key: &'a str, secret: &'a str, service: &'a str) -> Signer<'a> {
        Signer {
            key,
            secret,
            service,
            presign: false,
            at: SystemTime::now(),
        }
    }

    pub fn sign(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Signed {
        let identity = Credentials::new(self.key, self.secret, None, None, "test").into();
        let mut settings = SigningSettings::default();
        if self.presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(self.service)
            .time(self.at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body)).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(()).unwrap();
        instructions.apply_to_request_http1x(&mut req);
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        Signed {
            headers,
            path: req.uri().path_and_query().unwrap().to_string(),
        }
    }
}

/// A `haneul up` child process; killed (SIGKILL) when dropped.
pub struct Process {
    pub child: Child,
    pub api: SocketAddr,
    pub stdout_lines: Vec<String>,
}

impl Process {
    /// Starts the binary and waits for it to print its API address.
    pub fn up(data_dir: &Path, extra: &[&str]) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_haneul"))
            .args(["up", "--api", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn haneul");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = Vec::new();
        let mut api = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("haneul stdout");
            if let Some(addr) = line.strip_prefix("api  http://") {
                api = Some(addr.trim().parse().expect("api address"));
            }
            let ready = line.starts_with("ready:");
            lines.push(line);
            if ready {
                break;
            }
        }
        let api = api.unwrap_or_else(|| panic!("haneul printed no api address: {lines:?}"));
        Process {
            child,
            api,
            stdout_lines: lines,
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&mut self, sig: i32) -> std::process::ExitStatus {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
        self.child.wait().expect("wait for haneul")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Every `<tag>value</tag>` in an XML text.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

/// A query for `name`/`rtype` with a fresh id.
fn query_message(name: &str, rtype: hickory_proto::rr::RecordType) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;
    let mut m = Message::new();
    m.set_id(rand_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m
}

/// Sends `m` over UDP and returns the parsed response (same id).
async fn udp_exchange(server: SocketAddr, m: hickory_proto::op::Message) -> hickory_proto::op::Message {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(&m.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf))
        .await
        .expect("DNS answer within 3 s")
        .unwrap();
    let reply = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(reply.id(), m.id());
    reply
}

/// Sends one DNS query over UDP (with EDNS unless `edns_payload` is None) and returns the
/// parsed response.
pub async fn dns_udp(
    server: SocketAddr,
    name: &str,
    rtype: hickory_proto::rr::RecordType,
    edns_payload: Option<u16>,
) -> hickory_proto::op::Message {
    let mut m = query_message(name, rtype);
    if let Some(payload) = edns_payload {
        let mut edns = hickory_proto::op::Edns::new();
        edns.set_max_payload(payload);
        m.set_edns(edns);
    }
    udp_exchange(server, m).await
}

/// The same over TCP (length-prefixed).
pub async fn dns_tcp(
    server: SocketAddr,
    name: &str,
    rtype: hickory_proto::rr::RecordType,
) -> hickory_proto::op::Message {
    use hickory_proto::op::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let m = query_message(name, rtype);
    let bytes = m.to_vec().unwrap();
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    stream.write_u16(bytes.len() as u16).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.unwrap();
    Message::from_vec(&reply).unwrap()
}

fn rand_id() -> u16 {
    (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        & 0xffff) as u16
}

/// The answer section's values as text (`192.0.2.1`, `www.example.test.`, …).
pub fn answer_values(m: &hickory_proto::op::Message) -> Vec<String> {
    m.answers().iter().map(|r| r.data().to_string()).collect()
}

/// A UDP query carrying an EDNS client-subnet option (`subnet` as `addr/prefix`).
pub async fn dns_udp_subnet(
    server: SocketAddr,
    name: &str,
    rtype: hickory_proto::rr::RecordType,
    subnet: &str,
) -> hickory_proto::op::Message {
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    let (addr, prefix) = subnet.split_once('/').unwrap();
    let mut m = query_message(name, rtype);
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
        addr.parse().unwrap(),
        prefix.parse().unwrap(),
        0,
    )));
    m.set_edns(edns);
    udp_exchange(server, m).await
}
