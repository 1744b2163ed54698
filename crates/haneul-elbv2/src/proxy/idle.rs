//! A connection that fails with `TimedOut` once nothing has been read or written for the
//! load balancer's idle timeout. Activity only records the time, from the kernel's coarse
//! clock (a few ms of resolution, a fraction of the precise clock's cost); the timer is re-armed
//! lazily when it fires, so busy connections pay no timer work per read or write.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Milliseconds on the monotonic clock as of the kernel's last tick.
#[cfg(target_os = "linux")]
fn coarse_now_ms() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on every Linux
    // since 2.6.32 and cannot fail with a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    (now.tv_sec as u64) * 1_000 + (now.tv_nsec as u64) / 1_000_000
}

#[cfg(not(target_os = "linux"))]
fn coarse_now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as u64
}

pub struct IdleIo<T> {
    io: T,
    idle: Duration,
    /// `coarse_now_ms` at the last read or write.
    last_activity_ms: u64,
    timer: Pin<Box<Sleep>>,
}

impl<T> IdleIo<T> {
    pub fn new(io: T, idle: Duration) -> IdleIo<T> {
        IdleIo {
            io,
            idle,
            last_activity_ms: coarse_now_ms(),
            timer: Box::pin(tokio::time::sleep_until(Instant::now() + idle)),
        }
    }

    /// Taken out of a pool: idle from now, with this timeout.
    pub fn reuse(&mut self, idle: Duration) {
        self.idle = idle;
        self.last_activity_ms = coarse_now_ms();
        // The timer only ever moves later lazily; a shorter timeout must pull it in now.
        let deadline = Instant::now() + idle;
        if deadline < self.timer.deadline() {
            self.timer.as_mut().reset(deadline);
        }
    }

    /// Pending unless the connection has been idle for the whole timeout.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let idle_ms = self.idle.as_millis() as u64;
            let quiet_ms = coarse_now_ms().saturating_sub(self.last_activity_ms);
            if quiet_ms >= idle_ms {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "idle timeout"));
            }
            let left = Duration::from_millis(idle_ms - quiet_ms);
            self.timer.as_mut().reset(Instant::now() + left);
        }
    }
}

impl IdleIo<tokio::net::TcpStream> {
    /// Waits until the connection has bytes to read (or was idle for the whole timeout: an
    /// error), without reading them.
    pub async fn readable(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| match self.io.poll_read_ready(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.poll_idle(cx).map(Err),
        })
        .await
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.last_activity_ms = coarse_now_ms();
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(r) => {
                this.last_activity_ms = coarse_now_ms();
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.last_activity_ms = coarse_now_ms();
                Poll::Ready(r)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
