using Parquet;
using Parquet.Schema;

namespace IlgpuDiffusion.Data;

/// <summary>
/// Reads documents from a Parquet file's top-level string column (the layout of Hugging Face
/// dataset shards such as OpenWebText). The column's bytes are decoded as strict UTF-8, so
/// invalid text fails loudly instead of turning into replacement characters.
/// </summary>
internal static class ParquetTextReader
{
    /// <summary>The non-empty, non-null values of column <paramref name="column"/>, row group by row group.</summary>
    public static IEnumerable<CorpusDocument> Read(string path, string column)
    {
        ParquetReader reader = Open(path);
        try
        {
            DataField field = FindTextField(reader.Schema, path, column);
            for (int group = 0; group < reader.RowGroupCount; group++)
            {
                byte[]?[] values = ReadRowGroup(reader, group, field, path);
                for (int row = 0; row < values.Length; row++)
                {
                    byte[]? bytes = values[row];
                    if (bytes is null || bytes.Length == 0) continue;
                    yield return new CorpusDocument(path, StrictUtf8.Decode(bytes, $"{path}, row group {group}, row {row}"));
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static ParquetReader Open(string path)
    {
        try
        {
            return ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({e.Message}).", e);
        }
    }

    /// <summary>The column as a byte-array field with the file's nullability, so its raw UTF-8 can be read.</summary>
    private static DataField FindTextField(ParquetSchema schema, string path, string column)
    {
        DataField? field = schema.DataFields.FirstOrDefault(f => f.Name == column && f.Path.ToString() == column);
        if (field is null)
        {
            string columns = string.Join(", ", schema.DataFields.Select(f => f.Path.ToString()));
            throw new InvalidDataException($"{path}: the Parquet file has no top-level column \"{column}\" (columns: {columns}). " +
                "Set the text field option to the column that holds the document text.");
        }
        if (field.IsArray || (field.ClrType != typeof(ReadOnlyMemory<char>) && field.ClrType != typeof(ReadOnlyMemory<byte>)))
            throw new InvalidDataException(
                $"{path}: column \"{column}\" holds {field.ClrType.Name}{(field.IsArray ? " lists" : "")}, not text.");
        return new ParquetSchema(new DataField<byte[]>(field.Name, field.IsNullable)).DataFields[0];
    }

    private static byte[]?[] ReadRowGroup(ParquetReader reader, int group, DataField field, string path)
    {
        using ParquetRowGroupReader rowGroup = reader.OpenRowGroupReader(group);
        var values = new byte[]?[checked((int)rowGroup.RowCount)];
        try
        {
            rowGroup.ReadAsync(field, values.AsMemory(), null).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"{path}, row group {group}: cannot read column \"{field.Name}\" ({e.Message}).", e);
        }
        return values;
    }
}
