//! portcullis-testkit
