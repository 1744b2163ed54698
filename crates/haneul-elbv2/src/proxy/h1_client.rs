//! HTTP/1.1 to a plain target for requests that come in through hyper (HTTPS listeners, HTTP/2
//! clients): the request head written as bytes on a connection from the worker's pool (the pool
//! the HTTP/1.1 path uses), the request body streamed (chunked when its length is not known),
//! the response head parsed in place and its body read straight off the connection, which goes
//! back to the pool when the body has ended. Upgrades, HTTPS and HTTP/2 targets go through
//! hyper's client (`upstream.rs`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::h1::{
    checkin, connect, make_room, read_response, response_framing, Chunked, Failure, Framing, ResponseError,
    BODY_READ_BYTES,
};
use crate::proxy::idle::IdleIo;

/// Sends `req` to the target at `addr` and returns its response once the head has arrived; the
/// body follows as the caller reads it. Errors are the status ALB answers with (502, 504).
pub async fn send(addr: SocketAddr, req: Request<Incoming>, idle: Duration) -> Result<Response<RawBody>, u16> {
    let (parts, mut body) = req.into_parts();
    let head_only = parts.method == Method::HEAD;
    let (head, framing) = request_head(&parts.method, &parts.uri, &parts.headers, &body);
    let mut attempt = 0;
    loop {
        attempt += 1;
        // A pooled connection the target closed meanwhile is retried once on a fresh one, when
        // no body has been sent that could not be sent again.
        let retry = attempt == 1 && framing == Framing::None;
        let (mut io, reused) = connect(addr, attempt == 1, idle).await.map_err(status_of)?;
        let retry = retry && reused;
        if io.write_all(&head).await.is_err() {
            if retry {
                continue;
            }
            return Err(502);
        }
        if framing != Framing::None {
            send_body(&mut body, &mut io, framing == Framing::Chunked).await?;
        }
        let mut buf = BytesMut::new();
        match read_response(&mut io, &mut buf, |res| response_parts(res, head_only)).await {
            Ok(Some(Ok((response, framing, keep)))) => {
                let body = RawBody::new(addr, io, buf, framing, keep);
                return Ok(response.map(|()| body));
            }
            Ok(Some(Err(()))) => return Err(502),
            Err(ResponseError::TimedOut) => return Err(504),
            Ok(None) | Err(ResponseError::Closed) if retry => continue,
            Ok(None) | Err(ResponseError::Closed) => return Err(502),
        }
    }
}

fn status_of(failure: Failure) -> u16 {
    match failure {
        Failure::Status(code) => code,
        Failure::Client => 502,
    }
}

/// The target's request head, and how its body is framed: the client's length when it gave one,
/// chunked when it did not (HTTP/2 clients need not), none when the body is empty.
fn request_head(method: &Method, uri: &http::Uri, headers: &HeaderMap, body: &Incoming) -> (BytesMut, Framing) {
    let mut head = BytesMut::with_capacity(512);
    head.put_slice(method.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes());
    head.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        // Framing is this hop's to set; Expect is answered by the load balancer itself; cookies
        // follow in one line.
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::EXPECT
            || name == header::COOKIE
        {
            continue;
        }
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    // HTTP/2 clients may send each cookie in its own field; HTTP/1.1 wants one Cookie line.
    let mut cookies = headers.get_all(header::COOKIE).iter();
    if let Some(first) = cookies.next() {
        head.put_slice(b"cookie: ");
        head.put_slice(first.as_bytes());
        for more in cookies {
            head.put_slice(b"; ");
            head.put_slice(more.as_bytes());
        }
        head.put_slice(b"\r\n");
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    let framing = match length {
        Some(n) => {
            if n > 0 || method_carries_body(method) {
                head.put_slice(format!("content-length: {n}\r\n").as_bytes());
            }
            if n > 0 {
                Framing::Length(n)
            } else {
                Framing::None
            }
        }
        None if body.is_end_stream() => Framing::None,
        None => {
            head.put_slice(b"transfer-encoding: chunked\r\n");
            Framing::Chunked
        }
    };
    head.put_slice(b"\r\n");
    (head, framing)
}

/// Methods whose requests say their (empty) length out loud.
fn method_carries_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Streams the client's body to the target as it arrives.
async fn send_body(body: &mut Incoming, io: &mut IdleIo<TcpStream>, chunked: bool) -> Result<(), u16> {
    while let Some(frame) = body.frame().await {
        // The client's body broke off: the target's request cannot be completed.
        let frame = frame.map_err(|_| 400u16)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        let written = if chunked {
            let mut chunk = BytesMut::with_capacity(data.len() + 20);
            chunk.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
            chunk.put_slice(&data);
            chunk.put_slice(b"\r\n");
            io.write_all(&chunk).await
        } else {
            io.write_all(&data).await
        };
        written.map_err(|_| 502u16)?;
    }
    if chunked {
        io.write_all(b"0\r\n\r\n").await.map_err(|_| 502u16)?;
    }
    Ok(())
}

type Parts = (Response<()>, Framing, bool);

/// The response's status and headers as hyper hands them on, its framing, and whether the
/// target keeps the connection.
fn response_parts(res: &httparse::Response<'_, '_>, head_only: bool) -> Result<Parts, ()> {
    let status = res.code.unwrap_or(502);
    let (framing, keep) = response_framing(res, status, head_only);
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(status).map_err(|_| ())?;
    *response.version_mut() = Version::HTTP_11;
    let headers = response.headers_mut();
    headers.reserve(res.headers.len());
    for h in res.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| ())?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| ())?;
        headers.append(name, value);
    }
    Ok((response, framing, keep))
}

/// A target's response body read off its connection as framed (chunked bodies decoded); the
/// connection goes back to the worker's pool when the body ends where its framing says.
pub struct RawBody {
    addr: SocketAddr,
    io: Option<IdleIo<TcpStream>>,
    buf: BytesMut,
    framing: Framing,
    /// Bytes still to come (Content-Length bodies).
    remaining: u64,
    chunks: Chunked,
    keep: bool,
}

impl RawBody {
    fn new(addr: SocketAddr, io: IdleIo<TcpStream>, buf: BytesMut, framing: Framing, keep: bool) -> RawBody {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        let mut body = RawBody {
            addr,
            io: Some(io),
            buf,
            framing,
            remaining,
            chunks: Chunked::default(),
            keep,
        };
        if framing == Framing::None || framing == Framing::Length(0) {
            body.finish();
        }
        body
    }

    /// The body has ended: the connection goes back to the pool if it can carry another request.
    fn finish(&mut self) {
        if let Some(io) = self.io.take() {
            if self.keep && self.framing != Framing::Close && self.buf.is_empty() {
                checkin(self.addr, io);
            }
        }
    }

    /// The next data at hand in `buf`, if any (`Err`: the target broke the chunked framing).
    fn take_data(&mut self) -> Result<Option<Bytes>, std::io::Error> {
        match self.framing {
            Framing::None => Ok(None),
            Framing::Length(_) => {
                if self.buf.is_empty() || self.remaining == 0 {
                    return Ok(None);
                }
                let take = self
                    .buf
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= take as u64;
                let data = self.buf.split_to(take).freeze();
                if self.remaining == 0 {
                    self.finish();
                }
                Ok(Some(data))
            }
            Framing::Chunked => {
                let data = self
                    .chunks
                    .next_data(&mut self.buf)
                    .map_err(|()| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunked framing"))?;
                if self.chunks.done() {
                    self.finish();
                }
                Ok(data)
            }
            Framing::Close => Ok((!self.buf.is_empty()).then(|| self.buf.split().freeze())),
        }
    }

    fn ended(&self) -> bool {
        match self.framing {
            Framing::None => true,
            Framing::Length(_) => self.remaining == 0,
            Framing::Chunked => self.chunks.done(),
            Framing::Close => self.io.is_none(),
        }
    }
}

impl Body for RawBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            match this.take_data() {
                Ok(Some(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            if this.ended() {
                return Poll::Ready(None);
            }
            let Some(io) = this.io.as_mut() else {
                return Poll::Ready(None);
            };
            make_room(&mut this.buf, BODY_READ_BYTES);
            // A read future holds no state between polls: made afresh on each one.
            let read = std::pin::pin!(io.read_buf(&mut this.buf));
            match read.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    this.io = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Ok(0)) => {
                    this.io = None;
                    if this.framing == Framing::Close {
                        return Poll::Ready(None);
                    }
                    let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "target closed mid-body");
                    return Poll::Ready(Some(Err(eof)));
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::None => SizeHint::with_exact(0),
            Framing::Length(_) => SizeHint::with_exact(self.remaining),
            _ => SizeHint::default(),
        }
    }
}
