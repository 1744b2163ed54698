//! One module per AWS wire protocol: decoding a request into the input tree, encoding the
//! output tree and the error envelope.

pub mod json;
pub mod query;
pub mod rest_xml;
