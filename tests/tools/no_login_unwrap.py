#!/usr/bin/python3
"""The attack on a backup, made with an independent PKCS#11 client (PyKCS11),
not keyceremony's code: with the token and the backup blob but no PIN, open a
public session, unwrap the blob under the trusted KEK into an extractable,
non-sensitive session object, and read its value.

usage: no_login_unwrap.py MODULE TOKEN_LABEL KEK_LABEL BLOB KEY_TYPE
KEY_TYPE is ec, rsa or aes. Prints LEAKED <value hex> and exits 3 when the
value came out; REFUSED <reason> and exits 0 when every try was refused.
"""
import sys

import PyKCS11 as P

module, token_label, kek_label, blob_path, key_type = sys.argv[1:6]
lib = P.PyKCS11Lib()
lib.load(module)
slots = [s for s in lib.getSlotList(tokenPresent=True)
         if lib.getTokenInfo(s).label.strip() == token_label]
if len(slots) != 1:
    sys.exit(f"token {token_label!r}: {len(slots)} slots")
session = lib.openSession(slots[0], P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)
keks = session.findObjects([(P.CKA_CLASS, P.CKO_SECRET_KEY), (P.CKA_LABEL, kek_label)])
if len(keks) != 1:
    # No KEK visible without a login: nothing to unwrap with.
    print(f"REFUSED no KEK {kek_label!r} visible without a login ({len(keks)} found)")
    sys.exit(0)
kek = keks[0]
blob = open(blob_path, "rb").read()
cls, kt = {
    "ec": (P.CKO_PRIVATE_KEY, P.CKK_EC),
    "rsa": (P.CKO_PRIVATE_KEY, P.CKK_RSA),
    "aes": (P.CKO_SECRET_KEY, P.CKK_AES),
}[key_type]
reasons = []
for mechanism in (P.CKM_AES_KEY_WRAP_PAD, P.CKM_AES_KEY_WRAP):
    for token, private in ((False, False), (True, False), (False, True)):
        template = [(P.CKA_CLASS, cls), (P.CKA_KEY_TYPE, kt), (P.CKA_TOKEN, token),
                    (P.CKA_PRIVATE, private), (P.CKA_SENSITIVE, False),
                    (P.CKA_EXTRACTABLE, True)]
        try:
            key = session.unwrapKey(kek, blob, template, P.Mechanism(mechanism))
        except P.PyKCS11Error as e:
            reasons.append(str(e).split(" ")[0])
            continue
        value_attribute = P.CKA_VALUE
        try:
            value = bytes(session.getAttributeValue(key, [value_attribute])[0])
        except P.PyKCS11Error as e:
            reasons.append("unwrapped, value unreadable: " + str(e).split(" ")[0])
            continue
        print("LEAKED " + value.hex())
        sys.exit(3)
print("REFUSED " + " ".join(sorted(set(reasons))))
