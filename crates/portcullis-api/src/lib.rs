//! portcullis-api
