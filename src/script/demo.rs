//! The DEMO-ONLY rehearsal identities (ceremonies/rehearsal/keys/). Their
//! private keys are committed, so anyone can sign as them: a production run
//! refuses them whatever their comment says.

use crate::identity::PublicIdentity;

const DEMO_KEYS: [&str; 8] = [
    include_str!("../../ceremonies/rehearsal/keys/alice.pub"),
    include_str!("../../ceremonies/rehearsal/keys/bob.pub"),
    include_str!("../../ceremonies/rehearsal/keys/carol.pub"),
    include_str!("../../ceremonies/rehearsal/keys/dave.pub"),
    include_str!("../../ceremonies/rehearsal/keys/erin.pub"),
    include_str!("../../ceremonies/rehearsal/keys/frank.pub"),
    include_str!("../../ceremonies/rehearsal/keys/grace.pub"),
    include_str!("../../ceremonies/rehearsal/keys/heidi.pub"),
];

pub fn is_demo(identity: &PublicIdentity) -> bool {
    DEMO_KEYS
        .iter()
        .filter_map(|line| PublicIdentity::from_openssh(line.trim()).ok())
        .any(|demo| &demo == identity)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_demo_key_parses() {
        for line in super::DEMO_KEYS {
            let id =
                crate::identity::PublicIdentity::from_openssh(line.trim()).expect("a demo key");
            assert!(super::is_demo(&id));
        }
    }
}
