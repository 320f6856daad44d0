//! A participant's key held by an OpenSSH agent (ssh-agent, or an agent in
//! front of a hardware token such as a YubiKey): the private key never
//! enters this process; the agent signs one message per request, and a
//! hardware-backed key may ask its owner to touch it.
//!
//! The agent protocol (draft-miller-ssh-agent): every message is a uint32
//! length and that many bytes, the first being the message type. For an
//! ssh-ed25519 key the agent signs the raw message with Ed25519, and the
//! answer wraps the 64 raw bytes as `string "ssh-ed25519", string sig`, so
//! a signature by the agent is exactly the signature of the key file.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::Signature;

use super::{IdentityError, PublicIdentity};

const SSH_AGENT_FAILURE: u8 = 5;
const SSH2_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH2_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH2_AGENTC_SIGN_REQUEST: u8 = 13;
const SSH2_AGENT_SIGN_RESPONSE: u8 = 14;

/// Answers larger than this are not an agent's: a hostile socket must not
/// make us allocate without bound.
const MAX_MESSAGE: usize = 256 * 1024;

/// A hardware key may wait for a touch; past this the act fails rather
/// than hanging the ceremony's terminal.
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The roster key of one person, found in the agent at `socket`.
pub struct AgentKey {
    socket: PathBuf,
    public: PublicIdentity,
}

impl AgentKey {
    /// Finds `wanted` among the agent's identities ($SSH_AUTH_SOCK unless
    /// `socket` is given). An agent that does not hold it is an error that
    /// names the key, so the person knows which key to add.
    pub fn find(wanted: &PublicIdentity, socket: Option<&Path>) -> Result<AgentKey, IdentityError> {
        let socket = match socket {
            Some(path) => path.to_path_buf(),
            None => std::env::var_os("SSH_AUTH_SOCK")
                .map(PathBuf::from)
                .ok_or(IdentityError::NoAgent)?,
        };
        let answer = request(&socket, &[SSH2_AGENTC_REQUEST_IDENTITIES])?;
        let mut reader = Reader::new(&answer);
        if reader.byte()? != SSH2_AGENT_IDENTITIES_ANSWER {
            return Err(agent_error("the agent did not list its keys"));
        }
        let count = reader.u32()?;
        let blob = wanted.wire_blob();
        for _ in 0..count {
            let key = reader.string()?;
            let _comment = reader.string()?;
            if key == blob.as_slice() {
                return Ok(AgentKey {
                    socket,
                    public: wanted.clone(),
                });
            }
        }
        Err(IdentityError::NotInAgent {
            fingerprint: wanted.fingerprint(),
        })
    }

    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// Asks the agent to sign `message`, and checks the answer: an agent
    /// is outside this process and is trusted with nothing.
    pub fn sign(&self, message: &[u8]) -> Result<Signature, IdentityError> {
        let blob = self.public.wire_blob();
        let mut request_bytes = vec![SSH2_AGENTC_SIGN_REQUEST];
        put_string(&mut request_bytes, &blob);
        put_string(&mut request_bytes, message);
        request_bytes.extend_from_slice(&0u32.to_be_bytes());
        let answer = request(&self.socket, &request_bytes)?;
        let mut reader = Reader::new(&answer);
        match reader.byte()? {
            SSH2_AGENT_SIGN_RESPONSE => {}
            SSH_AGENT_FAILURE => {
                return Err(agent_error(
                    "the agent refused to sign (a hardware key not touched in time, or a confirmation declined)",
                ));
            }
            other => return Err(agent_error(&format!("unexpected agent answer {other}"))),
        }
        let envelope = reader.string()?;
        let mut inner = Reader::new(envelope);
        if inner.string()? != b"ssh-ed25519" {
            return Err(agent_error("the agent signed with another algorithm"));
        }
        let raw: [u8; 64] = inner
            .string()?
            .try_into()
            .map_err(|_| agent_error("the agent's signature is not 64 bytes"))?;
        let signature = Signature::from_bytes(&raw);
        self.public.verify(message, &signature)?;
        Ok(signature)
    }
}

fn agent_error(detail: &str) -> IdentityError {
    IdentityError::Agent(detail.to_owned())
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One request, one answer, on a fresh connection.
fn request(socket: &Path, body: &[u8]) -> Result<Vec<u8>, IdentityError> {
    let io = |e: std::io::Error| agent_error(&format!("{}: {e}", socket.display()));
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(AGENT_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(AGENT_TIMEOUT)).map_err(io)?;
    let mut framed = Vec::with_capacity(body.len() + 4);
    put_string(&mut framed, body);
    stream.write_all(&framed).map_err(io)?;
    let mut length = [0u8; 4];
    stream.read_exact(&mut length).map_err(io)?;
    let length = u32::from_be_bytes(length) as usize;
    if length == 0 || length > MAX_MESSAGE {
        return Err(agent_error(&format!("an answer of {length} bytes")));
    }
    let mut answer = vec![0u8; length];
    stream.read_exact(&mut answer).map_err(io)?;
    Ok(answer)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IdentityError> {
        if self.bytes.len() < n {
            return Err(agent_error("a truncated answer"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, IdentityError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, IdentityError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn string(&mut self) -> Result<&'a [u8], IdentityError> {
        let length = self.u32()? as usize;
        self.take(length)
    }
}
