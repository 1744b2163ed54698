//! Batched UDP I/O on Linux: `recvmmsg` takes up to [`BATCH`] queries per wake-up and
//! `sendmmsg` sends their replies in one call, instead of a syscall and a context switch per
//! packet. The only unsafe code of the DNS server lives here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per syscall.
pub const BATCH: usize = 32;
/// Largest datagram read.
pub const BUFFER_BYTES: usize = 4096;

/// Receive and send buffers for one worker thread, reused for every batch.
pub struct Batch {
    buffers: Vec<[u8; BUFFER_BYTES]>,
    lengths: [usize; BATCH],
    peers: [libc::sockaddr_storage; BATCH],
    peer_lengths: [libc::socklen_t; BATCH],
    count: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            buffers: vec![[0u8; BUFFER_BYTES]; BATCH],
            lengths: [0; BATCH],
            // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
            peers: unsafe { std::mem::zeroed() },
            peer_lengths: [0; BATCH],
            count: 0,
        }
    }
}

impl Batch {
    /// Blocks until at least one datagram arrives (or the socket's read timeout passes),
    /// then takes all that are waiting, up to [`BATCH`]. Returns how many.
    pub fn receive(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        let mut iovecs: Vec<libc::iovec> = self
            .buffers
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: BUFFER_BYTES,
            })
            .collect();
        // SAFETY: mmsghdr is plain old data; all-zero is valid, and every pointer field is set below.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, h) in headers.iter_mut().enumerate() {
            h.msg_hdr.msg_name = (&mut self.peers[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: headers, iovecs, buffers and peers outlive the call; lengths match them.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(std::io::Error::last_os_error());
        }
        self.count = n as usize;
        for (i, h) in headers.iter().take(self.count).enumerate() {
            self.lengths[i] = (h.msg_len as usize).min(BUFFER_BYTES);
            self.peer_lengths[i] = h.msg_hdr.msg_namelen;
        }
        Ok(self.count)
    }

    /// The `i`th datagram of the batch and who sent it.
    pub fn datagram(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        (&self.buffers[i][..self.lengths[i]], to_socket_addr(&self.peers[i]))
    }

    /// Sends `replies` (`(index of the query in this batch, bytes)`) to their senders.
    pub fn reply(&self, socket: &UdpSocket, replies: &[(usize, Vec<u8>)]) {
        let mut iovecs: Vec<libc::iovec> = replies
            .iter()
            .map(|(_, bytes)| libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            })
            .collect();
        // SAFETY: as in `receive`.
        let mut headers: Vec<libc::mmsghdr> = (0..replies.len()).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (k, (i, _)) in replies.iter().enumerate() {
            let h = &mut headers[k];
            h.msg_hdr.msg_name =
                (&self.peers[*i] as *const libc::sockaddr_storage as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = self.peer_lengths[*i];
            h.msg_hdr.msg_iov = &mut iovecs[k];
            h.msg_hdr.msg_iovlen = 1;
        }
        let mut sent = 0;
        while sent < headers.len() {
            // SAFETY: headers point at iovecs, replies and peers, all alive for the call.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    headers[sent..].as_mut_ptr(),
                    (headers.len() - sent) as libc::c_uint,
                    0,
                )
            };
            if n <= 0 {
                return; // a full send buffer drops replies, as UDP may
            }
            sent += n as usize;
        }
    }
}

fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be(a.sin6_port)))
        }
        _ => None,
    }
}
