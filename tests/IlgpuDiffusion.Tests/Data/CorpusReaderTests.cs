using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class CorpusReaderTests : IDisposable
{
    private static readonly byte[] InvalidUtf8 = [(byte)'o', (byte)'k', 0xC3, 0x28, (byte)'!'];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly CorpusReaderOptions WithParquet = new CorpusReaderOptions().WithParquet();

    private static string[] Texts(CorpusReader reader) => reader.ReadDocuments().Select(d => d.Text).ToArray();

    [Fact]
    public void A_folder_gives_one_document_per_text_file_in_ordinal_path_order()
    {
        _temp.Write("corpus/b.txt", "second");
        _temp.Write("corpus/a.txt", "first\n\nstill first");
        _temp.Write("corpus/sub/c.md", "third");
        _temp.Write("corpus/empty.txt", "");
        _temp.Write("corpus/notes.bin", "not a corpus file");
        var reader = new CorpusReader([_temp.File("corpus")]);
        Assert.Equal(["first\n\nstill first", "second", "third"], Texts(reader));
        Assert.Equal(3, reader.CountDocuments());
        Assert.Equal(4, reader.Files.Count);
    }

    [Fact]
    public void A_named_file_of_no_corpus_format_is_refused_unless_a_format_is_forced()
    {
        string csv = _temp.Write("table.csv", "id,text\n1,hello\n");
        string message = Assert.Throws<InvalidDataException>(() => new CorpusReader([csv])).Message;
        Assert.Contains("table.csv: .csv is not a corpus format here", message);
        Assert.Contains("--format text", message);
        var forced = new CorpusReaderOptions { Format = CorpusFileFormat.PlainText };
        Assert.Equal(["id,text\n1,hello\n"], Texts(new CorpusReader([csv], forced)));
        Assert.Equal(["raw"], Texts(new CorpusReader([_temp.Write("input", "raw")]))); // no extension: plain text
    }

    [Fact]
    public void Blank_lines_separate_documents_when_configured()
    {
        string path = _temp.Write("paragraphs.txt", "\uFEFFone a\r\none b\n\n  \n\ntwo\n\n\nthree\n");
        var reader = new CorpusReader([path], new CorpusReaderOptions { PlainText = PlainTextDocuments.BlankLineSeparated });
        Assert.Equal(["one a\none b", "two", "three"], Texts(reader));
    }

    [Fact]
    public void A_whole_file_document_keeps_its_text_exactly_but_loses_the_BOM()
    {
        string path = _temp.Write("bom.txt", [0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i', (byte)' ', (byte)'\r', (byte)'\n']);
        Assert.Equal(["hi \r\n"], Texts(new CorpusReader([path])));
    }

    [Fact]
    public void JSON_lines_give_the_named_field()
    {
        string path = _temp.Write("docs.jsonl", "{\"text\":\"alpha \\u00e9\",\"n\":1}\n\n{\"n\":2,\"text\":\"beta\"}\n{\"text\":\"\"}\n");
        Assert.Equal(["alpha é", "beta"], Texts(new CorpusReader([path])));
        string other = _temp.Write("other.jsonl", "{\"body\":\"gamma\"}\n");
        Assert.Equal(["gamma"], Texts(new CorpusReader([other], new CorpusReaderOptions { TextField = "body" })));
    }

    [Fact]
    public async Task Parquet_gives_the_named_column_across_row_groups_skipping_nulls()
    {
        string path = _temp.File("shard.parquet");
        await ParquetFiles.WriteTextAsync(path, "text", ["one", null, "two"], ["thrée 🎉"]);
        Assert.Equal(["one", "two", "thrée 🎉"], Texts(new CorpusReader([path], WithParquet)));
    }

    [Fact]
    public async Task Parquet_with_a_required_string_column_is_read_too()
    {
        string path = _temp.File("required.parquet");
        await ParquetFiles.WriteTextAsync(path, "text", nullable: false, ["a", "b"], ["c"]);
        Assert.Equal(["a", "b", "c"], Texts(new CorpusReader([path], WithParquet)));
    }

    [Fact]
    public void Explicit_format_reads_files_of_any_extension()
    {
        string path = _temp.Write("docs.data", "{\"text\":\"x\"}\n");
        Assert.Equal(["x"], Texts(new CorpusReader([path], new CorpusReaderOptions { Format = CorpusFileFormat.JsonLines })));
    }

    [Fact]
    public void A_missing_path_is_named()
    {
        string missing = _temp.File("nowhere/corpus.txt");
        var error = Assert.Throws<FileNotFoundException>(() => new CorpusReader([missing]));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void An_empty_corpus_is_an_error_naming_the_inputs()
    {
        Directory.CreateDirectory(_temp.File("none"));
        var noFiles = Assert.Throws<InvalidDataException>(() => new CorpusReader([_temp.File("none")]));
        Assert.Contains(_temp.File("none"), noFiles.Message);
        Assert.Contains("Empty corpus", noFiles.Message);

        string blank = _temp.Write("blank.txt", "\n\n   \n");
        var reader = new CorpusReader([blank], new CorpusReaderOptions { PlainText = PlainTextDocuments.BlankLineSeparated });
        var noDocuments = Assert.Throws<InvalidDataException>(() => reader.CountDocuments());
        Assert.Contains(blank, noDocuments.Message);
        Assert.Contains("no non-empty document", noDocuments.Message);
    }

    [Theory]
    [InlineData(PlainTextDocuments.FilePerDocument)]
    [InlineData(PlainTextDocuments.BlankLineSeparated)]
    public void Invalid_UTF8_in_plain_text_is_named(PlainTextDocuments mode)
    {
        string path = _temp.Write("bad.txt", InvalidUtf8);
        var error = Assert.Throws<InvalidDataException>(() =>
            Texts(new CorpusReader([path], new CorpusReaderOptions { PlainText = mode })));
        Assert.Contains(path, error.Message);
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Fact]
    public void Invalid_UTF8_in_JSON_lines_is_named_with_its_line()
    {
        byte[] bytes = [.. "{\"text\":\"fine\"}\n{\"text\":\""u8.ToArray(), .. InvalidUtf8, .. "\"}\n"u8.ToArray()];
        string path = _temp.Write("bad.jsonl", bytes);
        var error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([path])));
        Assert.Contains($"{path}, line 2", error.Message);
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Fact]
    public async Task Invalid_UTF8_in_Parquet_is_named_with_its_row()
    {
        string path = _temp.File("bad.parquet");
        await ParquetFiles.WriteBinaryAsync(path, "text", "fine"u8.ToArray(), InvalidUtf8);
        var error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([path], WithParquet)));
        Assert.Contains($"{path}, row group 0, row 1", error.Message);
        Assert.Contains("not valid UTF-8", error.Message);
    }

    [Fact]
    public async Task Parquet_without_the_named_column_lists_the_columns_it_has()
    {
        string path = _temp.File("columns.parquet");
        await ParquetFiles.WriteTextAsync(path, "content", ["a"]);
        var error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([path], WithParquet)));
        Assert.Contains(path, error.Message);
        Assert.Contains("no top-level column \"text\"", error.Message);
        Assert.Contains("id, content", error.Message);
    }

    [Fact]
    public void A_non_Parquet_file_with_the_parquet_extension_is_named()
    {
        string path = _temp.Write("fake.parquet", "plain words");
        var error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([path], WithParquet)));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void A_parquet_file_without_the_Parquet_format_names_the_package_that_reads_it()
    {
        string path = _temp.Write("corpus/shard.parquet", "not read");
        _temp.Write("corpus/a.txt", "words");
        foreach (string input in new[] { path, _temp.File("corpus") })
        {
            var error = Assert.Throws<InvalidDataException>(() => new CorpusReader([input]));
            Assert.Contains(path, error.Message);
            Assert.Contains("IlgpuDiffusion.Parquet", error.Message);
        }
        Assert.Equal(["not read"], Texts(new CorpusReader([path], new CorpusReaderOptions { Format = CorpusFileFormat.PlainText })));
    }

    [Fact]
    public void JSON_lines_without_the_field_or_with_bad_JSON_are_named_with_the_line()
    {
        string noField = _temp.Write("nofield.jsonl", "{\"text\":\"a\"}\n{\"body\":\"b\"}\n");
        var error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([noField])));
        Assert.Contains($"{noField}, line 2", error.Message);
        Assert.Contains("no field \"text\"", error.Message);

        string badJson = _temp.Write("broken.jsonl", "{\"text\": \"a\"\n");
        error = Assert.Throws<InvalidDataException>(() => Texts(new CorpusReader([badJson])));
        Assert.Contains($"{badJson}, line 1", error.Message);
    }
}
