//! The one PKCS#11 call cryptoki cannot make: creating an object with an
//! attribute whose value is itself a template (CKA_UNWRAP_TEMPLATE, a
//! CKF_ARRAY_ATTRIBUTE). The backup KEK needs it: without it, anyone with
//! the token and a backup blob unwraps the blob, with no login, into an
//! extractable session object and reads the root key's value.
//!
//! This is the only unsafe code under src/hsm. It calls the module's own
//! C_CreateObject (from its C_GetFunctionList) on a session cryptoki
//! opened: the library is loaded a second time by path, which the dynamic
//! loader resolves to the copy already initialized in this process.

// Why unsafe is allowed here: FFI into the PKCS#11 module, which cryptoki
// (the safe wrapper everything else uses) does not expose for array
// attributes. Each unsafe block states what it relies on.
#![allow(unsafe_code)]

use std::path::Path;

use cryptoki::context::Function;
use cryptoki::error::{Error, Rv};
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::{
    CK_ATTRIBUTE, CK_ATTRIBUTE_TYPE, CK_FUNCTION_LIST, CK_OBJECT_HANDLE, CK_RV, CK_ULONG,
    CKA_UNWRAP_TEMPLATE, CKR_OK,
};

/// C_CreateObject of `template` plus CKA_UNWRAP_TEMPLATE = `unwrap_template`,
/// on `session` of the module at `module_path`.
pub(super) fn create_object_with_unwrap_template(
    module_path: &Path,
    session: &Session,
    template: &[Attribute],
    unwrap_template: &[Attribute],
) -> Result<ObjectHandle, Error> {
    // SAFETY: loading a PKCS#11 module runs its initializers; this module
    // is already loaded and initialized by cryptoki in this process, so the
    // loader hands back the same copy and runs nothing again.
    let library =
        unsafe { cryptoki_sys::Pkcs11::new(module_path) }.map_err(Error::LibraryLoading)?;
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: C_GetFunctionList writes one pointer to the module's static
    // function table, valid while the library stays loaded (it is: cryptoki
    // holds it too).
    let rv = unsafe { library.C_GetFunctionList(&mut list) };
    Rv::from(rv).into_result(Function::GetFunctionList)?;
    // SAFETY: checked non-null; the table is static in the module.
    let create = unsafe { list.as_ref() }
        .and_then(|table| table.C_CreateObject)
        .ok_or(Error::NullFunctionPointer)?;

    // CK_ATTRIBUTEs point into the cryptoki Attributes, which outlive the
    // call; the nested template is a CK_ATTRIBUTE array, as PKCS#11 v2.40
    // section 4.1 (array attributes) says.
    let mut inner: Vec<CK_ATTRIBUTE> = unwrap_template.iter().map(CK_ATTRIBUTE::from).collect();
    let mut outer: Vec<CK_ATTRIBUTE> = template.iter().map(CK_ATTRIBUTE::from).collect();
    outer.push(CK_ATTRIBUTE {
        type_: CKA_UNWRAP_TEMPLATE,
        pValue: inner.as_mut_ptr().cast(),
        ulValueLen: (inner.len() * std::mem::size_of::<CK_ATTRIBUTE>()) as CK_ULONG,
    });
    let mut handle: CK_OBJECT_HANDLE = 0;
    // SAFETY: the session handle is live (borrowed `session`); `outer` and
    // `inner` and every buffer they point to live until after the call; the
    // module only reads the template and writes one handle.
    let rv: CK_RV = unsafe {
        create(
            session.handle(),
            outer.as_mut_ptr(),
            outer.len() as CK_ULONG,
            &mut handle,
        )
    };
    if rv != CKR_OK {
        Rv::from(rv).into_result(Function::CreateObject)?;
    }
    // SAFETY: the module just created this object and returned its handle.
    Ok(unsafe { ObjectHandle::new_from_raw(handle) })
}

/// The CKA_UNWRAP_TEMPLATE of `object` as the module reports it: each
/// attribute's type and value bytes, in the module's order. Read in three
/// calls, as PKCS#11 v2.40 section 5.7 has it for array attributes: the
/// array's size, then each element's type and size, then the values.
pub(super) fn read_unwrap_template(
    module_path: &Path,
    session: &Session,
    object: ObjectHandle,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>, Error> {
    // SAFETY: as in create_object_with_unwrap_template.
    let library =
        unsafe { cryptoki_sys::Pkcs11::new(module_path) }.map_err(Error::LibraryLoading)?;
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: as in create_object_with_unwrap_template.
    let rv = unsafe { library.C_GetFunctionList(&mut list) };
    Rv::from(rv).into_result(Function::GetFunctionList)?;
    // SAFETY: checked non-null; the table is static in the module.
    let get = unsafe { list.as_ref() }
        .and_then(|table| table.C_GetAttributeValue)
        .ok_or(Error::NullFunctionPointer)?;
    let mut outer = CK_ATTRIBUTE {
        type_: CKA_UNWRAP_TEMPLATE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    let call = |outer: &mut CK_ATTRIBUTE| -> Result<(), Error> {
        // SAFETY: the session handle is live; `outer` points either to
        // nothing or to a CK_ATTRIBUTE array of the size it says, whose
        // elements point to nothing or to buffers of the sizes they say,
        // all alive across the call.
        let rv = unsafe { get(session.handle(), object.handle(), outer, 1) };
        Rv::from(rv).into_result(Function::GetAttributeValue)
    };
    call(&mut outer)?;
    let size = std::mem::size_of::<CK_ATTRIBUTE>();
    let count = usize::try_from(outer.ulValueLen).unwrap_or(0) / size;
    let empty = CK_ATTRIBUTE {
        type_: 0,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    let mut inner = vec![empty; count];
    outer.pValue = inner.as_mut_ptr().cast();
    outer.ulValueLen = (count * size) as CK_ULONG;
    call(&mut outer)?;
    let mut values: Vec<Vec<u8>> = inner
        .iter()
        .map(|a| vec![0u8; usize::try_from(a.ulValueLen).unwrap_or(0)])
        .collect();
    for (attribute, value) in inner.iter_mut().zip(values.iter_mut()) {
        attribute.pValue = value.as_mut_ptr().cast();
    }
    call(&mut outer)?;
    Ok(inner.iter().map(|a| a.type_).zip(values).collect())
}
