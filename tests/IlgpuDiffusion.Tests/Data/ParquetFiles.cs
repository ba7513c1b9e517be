using Parquet;
using Parquet.Schema;

namespace IlgpuDiffusion.Tests.Data;

/// <summary>Writes small Parquet files for tests.</summary>
internal static class ParquetFiles
{
    /// <summary>A file with an int column "id" and a nullable string column <paramref name="column"/>, one row group per array.</summary>
    public static Task WriteTextAsync(string path, string column, params string?[][] rowGroups) =>
        WriteTextAsync(path, column, nullable: true, rowGroups);

    /// <summary>A file with an int column "id" and a string column <paramref name="column"/>, one row group per array.</summary>
    public static async Task WriteTextAsync(string path, string column, bool nullable, params string?[][] rowGroups)
    {
        var schema = new ParquetSchema(new DataField<int>("id"), new DataField<string>(column, nullable));
        await using FileStream stream = File.Create(path);
        await using ParquetWriter writer = await ParquetWriter.CreateAsync(schema, stream);
        int next = 0;
        foreach (string?[] rows in rowGroups)
        {
            using ParquetRowGroupWriter group = writer.CreateRowGroup();
            await group.WriteAsync<int>(schema.DataFields[0], Enumerable.Range(next, rows.Length).ToArray());
            await group.WriteAsync(schema.DataFields[1], rows!);
            next += rows.Length;
        }
    }

    /// <summary>A file with one binary column <paramref name="column"/> holding raw bytes.</summary>
    public static async Task WriteBinaryAsync(string path, string column, params byte[][] rows)
    {
        var schema = new ParquetSchema(new DataField<byte[]>(column));
        await using FileStream stream = File.Create(path);
        await using ParquetWriter writer = await ParquetWriter.CreateAsync(schema, stream);
        using ParquetRowGroupWriter group = writer.CreateRowGroup();
        await group.WriteAsync(schema.DataFields[0], rows);
    }
}
