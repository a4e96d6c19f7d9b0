//! One IPC message of a recording, checked and repaired before arrow-ipc
//! decodes it, and framed again for arrow-ipc's stream decoder
//! (`resync::BatchStream` reads the messages).

use arrow_schema::{DataType, Schema, SchemaRef};

use super::schema::FileKind;

pub(super) const CONTINUATION: [u8; 4] = [0xFF; 4];
/// Largest decompressed buffer vigil accepts. A compacted batch has buffers
/// of a few MB; the bound keeps a damaged length prefix from asking the
/// allocator for exabytes.
const MAX_BUFFER: i64 = 1 << 30;

/// The schema a file of this kind is written with: live (plain strings) or
/// compacted (dictionaries, which a stream without its schema shows by
/// starting with a dictionary message). `columns`, a record batch's column
/// count, tells an older version's `events.arrow` (fewer columns); other
/// files have today's columns in every version, and get today's schema.
pub(super) fn stand_in(kind: FileKind, dictionary: bool, columns: Option<usize>) -> SchemaRef {
    let legacy = kind.legacy_schema();
    let live = if columns.is_some_and(|n| n == legacy.fields().len() && n != kind.schema().fields().len()) {
        legacy
    } else {
        kind.schema()
    };
    if dictionary { super::compact::compacted_schema(&live, &kind.dictionary_columns_of(&live)) } else { live }
}

/// Whether `schema` has the columns of a vigil file of this kind, in
/// today's format or an older one: the same names in the same order, each
/// of the live type, its dictionary (compacted), or, for times, another
/// unit.
pub(super) fn fits(kind: FileKind, schema: &Schema) -> bool {
    fits_schema(&kind.schema(), schema) || fits_schema(&kind.legacy_schema(), schema)
}

fn fits_schema(live: &Schema, schema: &Schema) -> bool {
    live.fields().len() == schema.fields().len()
        && live.fields().iter().zip(schema.fields()).all(|(want, got)| {
            want.name() == got.name()
                && match (want.data_type(), got.data_type()) {
                    (w, g) if w == g => true,
                    (DataType::Utf8, DataType::Dictionary(k, v)) => **k == DataType::Int32 && **v == DataType::Utf8,
                    (DataType::Timestamp(_, wz), DataType::Timestamp(_, gz)) => wz == gz,
                    _ => false,
                }
        })
}

/// One IPC message: (metadata flatbuffer, body).
pub(super) type Message = (Vec<u8>, Vec<u8>);

pub(super) fn frame(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(meta.len()).unwrap_or(u32::MAX);
    let mut framed = Vec::with_capacity(8 + meta.len() + body.len());
    framed.extend_from_slice(&CONTINUATION);
    framed.extend_from_slice(&len.to_le_bytes());
    framed.extend_from_slice(meta);
    framed.extend_from_slice(body);
    framed
}

/// A schema message for `schema`, framed as the stream would hold it.
pub(super) fn frame_schema(schema: &Schema) -> Result<Vec<u8>, String> {
    let options = super::schema::write_options();
    let mut tracker = arrow_ipc::writer::DictionaryTracker::new(false);
    let encoded = arrow_ipc::writer::IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        schema,
        &mut tracker,
        &options,
    );
    let mut out = Vec::new();
    arrow_ipc::writer::write_message(&mut out, encoded, &options).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Give each column node with an impossible null count the count its
/// validity bitmap shows, in place. Only the null count: arrow reads the
/// bitmap only when the count is non-zero and then checks the two agree, so
/// the bitmap is the truth and the count a hint a bit flip can break.
pub(super) fn repair_null_counts(meta: &mut [u8], body: &[u8], schema: Option<&Schema>) -> Result<(), String> {
    use arrow_ipc::MessageHeader;
    let mut patches: Vec<(usize, i64)> = Vec::new();
    {
        let Ok(message) = arrow_ipc::root_as_message(meta) else { return Ok(()) };
        let (batch, validity_of) = match message.header_type() {
            MessageHeader::RecordBatch => {
                let Some(schema) = schema else { return Ok(()) };
                (message.header_as_record_batch(), validity_buffers(schema.fields().iter().map(|f| f.data_type())))
            }
            // vigil's dictionaries are one flat column of strings.
            MessageHeader::DictionaryBatch => {
                (message.header_as_dictionary_batch().and_then(|d| d.data()), vec![Some(0)])
            }
            _ => return Ok(()),
        };
        let Some(batch) = batch else { return Ok(()) };
        let Some(nodes) = batch.nodes() else { return Ok(()) };
        let compressed = batch.compression().is_some();
        let buffers = batch.buffers();
        let base = meta.as_ptr().addr();
        let nodes_at = nodes.bytes().as_ptr().addr().saturating_sub(base);
        for (i, node) in nodes.iter().enumerate() {
            let (len, nulls) = (node.length(), node.null_count());
            if nulls >= 0 && nulls <= len {
                continue;
            }
            if len < 0 {
                return Err(format!("bad column node (length {len}, nulls {nulls})"));
            }
            let Some(Some(vi)) = validity_of.get(i) else {
                return Err(format!("bad column node (length {len}, nulls {nulls})"));
            };
            let Some(b) = buffers.as_ref().and_then(|bs| (*vi < bs.len()).then(|| bs.get(*vi))) else {
                return Err(format!("bad column node (length {len}, nulls {nulls})"));
            };
            let count = if b.length() == 0 {
                0
            } else {
                let bitmap = usize::try_from(b.offset())
                    .ok()
                    .zip(usize::try_from(b.length()).ok())
                    .and_then(|(o, l)| body.get(o..o.checked_add(l)?))
                    .filter(|_| !compressed)
                    .ok_or_else(|| format!("bad column node (length {len}, nulls {nulls})"))?;
                unset_bits(bitmap, len).ok_or_else(|| format!("bad column node (length {len}, nulls {nulls})"))?
            };
            // A FieldNode is two little-endian i64s: length, null count.
            patches.push((nodes_at + 16 * i + 8, count));
        }
    }
    for (at, count) in patches {
        if let Some(slot) = meta.get_mut(at..at + 8) {
            slot.copy_from_slice(&count.to_le_bytes());
        }
    }
    Ok(())
}

/// For each top-level column of these types (vigil's schemas are flat), the
/// index of its validity buffer in a record batch's buffer list.
fn validity_buffers<'a>(types: impl Iterator<Item = &'a DataType>) -> Vec<Option<usize>> {
    let mut next = 0;
    types
        .map(|t| {
            let n = match t {
                DataType::Utf8 | DataType::Binary | DataType::LargeUtf8 | DataType::LargeBinary => 3,
                DataType::Dictionary(..) => 2,
                t if t.is_primitive() || matches!(t, DataType::Boolean) => 2,
                _ => return None,
            };
            let at = next;
            next += n;
            Some(at)
        })
        .collect()
}

/// Zero bits among the first `len` of a validity bitmap.
fn unset_bits(bitmap: &[u8], len: i64) -> Option<i64> {
    let len = usize::try_from(len).ok()?;
    if bitmap.len() * 8 < len {
        return None;
    }
    let set: usize = (0..len).filter(|i| bitmap[i / 8] & (1 << (i % 8)) != 0).count();
    i64::try_from(len - set).ok()
}

/// What arrow-ipc would otherwise trust: every buffer lies inside the body,
/// node counts are sane, compressed lengths are bounded.
pub(super) fn check_message(message: &arrow_ipc::Message<'_>, body: &[u8]) -> Result<(), String> {
    use arrow_ipc::MessageHeader;
    let batch = match message.header_type() {
        MessageHeader::Schema => return Ok(()),
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => message.header_as_dictionary_batch().and_then(|d| d.data()),
        other => return Err(format!("unexpected message type {other:?}")),
    }
    .ok_or_else(|| "message header without its batch".to_owned())?;
    let rows = batch.length();
    if rows < 0 {
        return Err(format!("negative row count {rows}"));
    }
    for node in batch.nodes().iter().flatten() {
        if node.length() < 0 || node.null_count() < 0 || node.null_count() > node.length() {
            return Err(format!("bad column node (length {}, nulls {})", node.length(), node.null_count()));
        }
    }
    let compressed = batch.compression().is_some();
    for b in batch.buffers().iter().flatten() {
        let (offset, len) = (b.offset(), b.length());
        let fits = offset >= 0 && len >= 0 && offset.checked_add(len).is_some_and(|e| e as u64 <= body.len() as u64);
        if !fits {
            return Err(format!("buffer at {offset}+{len} lies outside the message body of {} bytes", body.len()));
        }
        // A buffer off its 8-byte boundary is left to arrow-ipc, which
        // copies it into alignment (the decoder does not require it; what
        // it might still assert is caught by the caller).
        if compressed && len > 0 {
            let start = offset as usize;
            let Some(prefix) = body.get(start..start + 8) else {
                return Err("compressed buffer shorter than its length prefix".to_owned());
            };
            let n = i64::from_le_bytes(prefix.try_into().map_err(|_| "length prefix".to_owned())?);
            if !(n == -1 || (0..=MAX_BUFFER).contains(&n)) {
                return Err(format!("compressed buffer claims {n} bytes"));
            }
        }
    }
    Ok(())
}
