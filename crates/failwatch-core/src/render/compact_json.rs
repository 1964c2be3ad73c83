//! A compact JSON writer for the chat payload models, byte-for-byte what `serde_json::to_writer` writes
//! for them, only faster.
//!
//! Serialising the 2–4 KB payload was the largest single cost of rendering: serde_json checks every
//! byte of every string against its escape table one at a time. The payload models hold only structs,
//! sequences, options, strings, booleans and integers, so this writer supports exactly those and scans
//! strings eight bytes at a time for the three things JSON must escape (`"`, `\` and control
//! characters). Anything else (floats, maps, bytes, 128-bit integers) is refused with [`Unsupported`],
//! and the caller falls back to serde_json, so a future model field can never be written differently.

use std::fmt;

use serde::ser::{self, Serialize};

/// The value holds a type this writer does not handle; serialise it with serde_json instead.
#[derive(Debug)]
pub(super) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value this writer does not handle")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

/// Serialises `value` as compact JSON into `out`, which is cleared first.
pub(super) fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Unsupported> {
    out.clear();
    value.serialize(&mut Writer { out })
}

#[derive(Debug)]
struct Writer<'a> {
    out: &'a mut String,
}

/// `v` with every byte set to `b`.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Whether any byte of `v` is zero (exact for the whole word, whatever the byte positions).
const fn has_zero_byte(v: u64) -> bool {
    v.wrapping_sub(splat(1)) & !v & splat(0x80) != 0
}

/// Whether any byte of `v` is below 0x20, a control character JSON must escape.
const fn has_control_byte(v: u64) -> bool {
    v.wrapping_sub(splat(0x20)) & !v & splat(0x80) != 0
}

fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any of the eight bytes must be escaped.
fn word_must_escape(word: [u8; 8]) -> bool {
    let v = u64::from_le_bytes(word);
    has_control_byte(v) || has_zero_byte(v ^ splat(b'"')) || has_zero_byte(v ^ splat(b'\\'))
}

/// The index of the first byte at or after `from` that must be escaped, or `bytes.len()`.
fn next_escape(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        if word_must_escape(word) {
            break;
        }
        from += 8;
    }
    let rest = &bytes[from..];
    rest.iter()
        .position(|&b| must_escape(b))
        .map_or(bytes.len(), |i| from + i)
}

impl Writer<'_> {
    /// A JSON string, escaped exactly as serde_json escapes it: the short forms for `"`, `\`, backspace,
    /// tab, line feed, form feed and carriage return, `\u00xx` (lowercase hex) for the other control
    /// characters, everything else (including DEL and all non-ASCII text) as it is.
    fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        self.out.push('"');
        let mut start = 0;
        loop {
            let at = next_escape(bytes, start);
            // Escaped bytes are ASCII, so both ends of the run are character boundaries.
            self.out.push_str(&s[start..at]);
            let Some(&b) = bytes.get(at) else {
                break;
            };
            match b {
                b'"' => self.out.push_str("\\\""),
                b'\\' => self.out.push_str("\\\\"),
                0x08 => self.out.push_str("\\b"),
                b'\t' => self.out.push_str("\\t"),
                b'\n' => self.out.push_str("\\n"),
                0x0C => self.out.push_str("\\f"),
                b'\r' => self.out.push_str("\\r"),
                _ => {
                    self.out.push_str("\\u00");
                    self.out.push(char::from(HEX[usize::from(b >> 4)]));
                    self.out.push(char::from(HEX[usize::from(b & 0x0F)]));
                }
            }
            start = at + 1;
        }
        self.out.push('"');
    }

    fn integer(&mut self, v: impl fmt::Display) {
        use fmt::Write as _;
        // Writing to a String cannot fail; integers print as serde_json prints them.
        let _ = write!(self.out, "{v}");
    }
}

/// An open `[...]` or `{...}`: whether the next item needs a comma first.
#[derive(Debug)]
struct Compound<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
    /// What closes it: `]`, `}`, or `]}` / `}}` for an enum variant wrapped in `{"Variant": ...}`.
    close: &'static str,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.writer.out.push(',');
        }
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.comma();
        // Keys are the models' own field names ("topLabel", "cardsV2"), which never need escaping, so
        // they are not scanned. Debug builds (every test) check that claim for every key written.
        debug_assert!(!key.bytes().any(must_escape), "key {key:?} needs escaping");
        self.writer.out.push('"');
        self.writer.out.push_str(key);
        self.writer.out.push_str("\":");
        value.serialize(&mut *self.writer)
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Unsupported> {
        self.writer.out.push_str(self.close);
        Ok(())
    }
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(v);
        Ok(())
    }

    fn serialize_f32(self, _v: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_f64(self, _v: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v);
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.string(variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.out.push('{');
        self.string(variant);
        self.out.push(':');
        value.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Unsupported> {
        self.out.push('[');
        Ok(Compound {
            writer: self,
            first: true,
            close: "]",
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Unsupported> {
        self.out.push('{');
        self.string(variant);
        self.out.push_str(":[");
        Ok(Compound {
            writer: self,
            first: true,
            close: "]}",
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Unsupported> {
        self.out.push('{');
        Ok(Compound {
            writer: self,
            first: true,
            close: "}",
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Unsupported> {
        self.out.push('{');
        self.string(variant);
        self.out.push_str(":{");
        Ok(Compound {
            writer: self,
            first: true,
            close: "}}",
        })
    }

    fn serialize_i128(self, _v: i128) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_u128(self, _v: u128) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    fn both<T: Serialize>(value: &T) -> (String, String) {
        let mut ours = String::new();
        write(&mut ours, value).expect("supported");
        (ours, serde_json::to_string(value).expect("serialises"))
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Shape {
        Unit,
        Newtype(u32),
        Tuple(i64, bool),
        Struct { a: Option<String>, b: Vec<u8> },
    }

    #[derive(Serialize)]
    struct Model<'a> {
        text: &'a str,
        flag: bool,
        none: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        nested: [Shape; 4],
        empty: Vec<String>,
        unit: (),
        signed: i32,
    }

    #[test]
    fn models_are_written_as_serde_json_writes_them() {
        let model = Model {
            text: "a\"b\\c\u{0}\u{1f}\u{7f}\u{8}\t\n\u{c}\r/ é 🚨 <b>",
            flag: true,
            none: None,
            skipped: None,
            nested: [
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, false),
                Shape::Struct {
                    a: Some("x".to_owned()),
                    b: vec![1, 2],
                },
            ],
            empty: Vec::new(),
            unit: (),
            signed: i32::MIN,
        };
        let (ours, theirs) = both(&model);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn floats_maps_and_wide_integers_are_refused() {
        let mut out = String::new();
        assert!(write(&mut out, &1.5_f64).is_err());
        assert!(write(&mut out, &std::collections::BTreeMap::from([("k", 1)])).is_err());
        assert!(write(&mut out, &1_u128).is_err());
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in any::<String>(), t in "[\"\\\\\u{0}-\u{1f}a-z]{0,40}") {
            let (ours, theirs) = both(&(&s, &t));
            prop_assert_eq!(ours, theirs);
        }
    }
}
