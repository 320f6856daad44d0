//! placeholder until the transcript branch merges.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicIdentity(String);
impl PublicIdentity {
    pub fn from_openssh(line: &str) -> Result<Self, String> { Ok(Self(line.to_string())) }
    pub fn to_openssh(&self) -> String { self.0.clone() }
}
