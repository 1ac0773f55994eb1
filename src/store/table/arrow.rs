//! Loads from Arrow record batches (feature `arrow`) and Parquet files
//! (feature `parquet`): columns read into batches, then applied as JSON
//! Lines' blocks are.

use std::borrow::Borrow;

use arrow_array::RecordBatch;

use super::{Mode, Table};
use crate::error::StoreError;
use crate::store::arrow::read_record_batch;

impl Table {
    /// Inserts new entities from Arrow record batches, all or none.
    ///
    /// Each batch has a `key` column of strings (`Utf8`, `LargeUtf8` or
    /// `Utf8View`), non-null, non-empty and unique in the call; every other
    /// column names a field of the kind (fields without a column are left
    /// missing). A null is a missing value. A field reads these Arrow types:
    ///
    /// | field | Arrow types |
    /// | --- | --- |
    /// | `int` | any integer type (a `UInt64` past `i64::MAX` is an error of its row) |
    /// | `float` | any integer or float type (NaN and infinities are errors) |
    /// | `string` | `Utf8`, `LargeUtf8`, `Utf8View`, or a dictionary of one of them |
    /// | `bool` | `Boolean` |
    /// | `timestamp` | `Timestamp` of any unit and zone (finer than a microsecond is an error), `Date32`, `Date64`, or RFC 3339 strings |
    /// | `tags` | `List` or `LargeList` of strings; an empty list is a missing value |
    ///
    /// Into an empty table, the batches are read on this thread while the
    /// ones before are applied on another, and the indexes are built once
    /// at the end.
    ///
    /// # Errors
    ///
    /// Of a column, before any row is read: [`StoreError::NoKeyColumn`],
    /// [`StoreError::UnknownColumn`], [`StoreError::DuplicateColumn`],
    /// [`StoreError::ColumnType`]. Otherwise [`StoreError::InRow`] naming
    /// the first bad row, counted from 0 over all the batches, with what a
    /// JSON line would be refused for (a null, empty or repeated key, a
    /// value the field cannot hold).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use segments::arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    /// use segments::{FieldType, KindSchema, Table};
    ///
    /// let mut t = Table::new(KindSchema::new("account", [("nps", FieldType::Int)])?);
    /// let batch = RecordBatch::try_from_iter([
    ///     ("key", Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef),
    ///     ("nps", Arc::new(Int64Array::from(vec![Some(9), None])) as ArrayRef),
    /// ])
    /// .unwrap();
    /// assert_eq!(t.insert_arrow([&batch])?, 2);
    /// let err = t.insert_arrow([&batch]).unwrap_err();
    /// assert_eq!(err.to_string(), "row 0: key `a`: duplicate key");
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn insert_arrow<B: Borrow<RecordBatch>>(
        &mut self,
        batches: impl IntoIterator<Item = B>,
    ) -> Result<usize, StoreError> {
        self.write_arrow(batches.into_iter().map(Ok), Mode::Insert, 0)
    }

    /// As [`Table::insert_arrow`], with [`Table::upsert`]'s semantics: a
    /// null clears the field's value, a field without a column keeps it.
    ///
    /// # Errors
    ///
    /// As [`Table::insert_arrow`], but existing keys are not an error.
    pub fn upsert_arrow<B: Borrow<RecordBatch>>(
        &mut self,
        batches: impl IntoIterator<Item = B>,
    ) -> Result<usize, StoreError> {
        self.write_arrow(batches.into_iter().map(Ok), Mode::Upsert, 0)
    }

    /// Writes record batches as they come; an `Err` item stops the load
    /// (after the errors of the rows before it). `rows`: as
    /// [`Table::write_blocks`].
    pub(crate) fn write_arrow<B: Borrow<RecordBatch>>(
        &mut self,
        batches: impl Iterator<Item = Result<B, StoreError>>,
        mode: Mode,
        rows: usize,
    ) -> Result<usize, StoreError> {
        let schema = self.schema.clone();
        self.write_blocks(mode, rows, |put| {
            let mut first = 0;
            for rb in batches {
                let rb = rb?;
                let rb = rb.borrow();
                let batches = read_record_batch(&schema, rb, first)?;
                first += rb.num_rows();
                if !batches.is_empty() {
                    put(batches)?;
                }
            }
            Ok(())
        })
        .map(|w| w.ids.len())
    }
}

#[cfg(feature = "parquet")]
mod parquet_files {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::ChunkReader;

    use super::{Mode, Table};
    use crate::error::StoreError;

    /// Rows per record batch read from a Parquet file.
    const ROWS: usize = 1 << 16;

    fn arrow_error(e: impl std::fmt::Display) -> StoreError {
        StoreError::Arrow { message: e.to_string() }
    }

    /// Runs a step of the Parquet reader with its panics contained: some
    /// damaged files make arrow-rs panic rather than fail (a negative
    /// column offset in the footer, a page that decodes past its end).
    /// Such a panic is the file's error, never the caller's crash. The
    /// panic hook still runs (by default it prints the message).
    fn contained<T>(during: &str, step: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(StoreError::Arrow {
                message: format!("a damaged Parquet file: the reader failed {during}: {why}"),
            })
        })
    }

    impl Table {
        /// Inserts new entities from a Parquet file, all or none: its
        /// columns as [`Table::insert_arrow`] reads them (Parquet's
        /// strings, integers, doubles, booleans, timestamps and lists of
        /// strings are all Arrow types of the table there).
        ///
        /// `file` is anything Parquet reads from: a [`std::fs::File`], or
        /// the bytes of a file in memory
        /// ([`bytes::Bytes`](https://docs.rs/bytes/1/bytes/struct.Bytes.html)). Snappy,
        /// zstd, LZ4 and gzip compression are read; Brotli is not.
        ///
        /// # Errors
        ///
        /// As [`Table::insert_arrow`], plus [`StoreError::Arrow`] for a
        /// file that is not Parquet or does not decode.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// use segments::{FieldType, KindSchema, Table};
        ///
        /// let mut t = Table::new(KindSchema::new("account", [("nps", FieldType::Int)])?);
        /// let n = t.insert_parquet(std::fs::File::open("accounts.parquet")?)?;
        /// println!("{n} accounts");
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn insert_parquet<R: ChunkReader + 'static>(&mut self, file: R) -> Result<usize, StoreError> {
            self.write_parquet(file, Mode::Insert)
        }

        /// As [`Table::insert_parquet`], with [`Table::upsert_arrow`]'s
        /// semantics.
        ///
        /// # Errors
        ///
        /// As [`Table::insert_parquet`], but existing keys are not an error.
        pub fn upsert_parquet<R: ChunkReader + 'static>(&mut self, file: R) -> Result<usize, StoreError> {
            self.write_parquet(file, Mode::Upsert)
        }

        fn write_parquet<R: ChunkReader + 'static>(&mut self, file: R, mode: Mode) -> Result<usize, StoreError> {
            let builder = contained("reading its footer", || {
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(arrow_error)
            })?;
            // The file says how many rows it holds (a hint: not trusted further).
            let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
            let mut reader = Some(contained("setting up", || {
                builder.with_batch_size(ROWS).build().map_err(arrow_error)
            })?);
            // A batch whose reading panicked ends the load with that error
            // (and the reader, which may be left half-way, goes with it).
            let batches = std::iter::from_fn(move || {
                let next = contained("reading its pages", || Ok(reader.as_mut().and_then(Iterator::next)));
                match next {
                    Ok(batch) => batch.map(|b| b.map_err(arrow_error)),
                    Err(e) => {
                        reader = None;
                        Some(Err(e))
                    }
                }
            });
            self.write_arrow(batches, mode, rows.min(1 << 28))
        }
    }
}
