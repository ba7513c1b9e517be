using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class LambadaReaderTests
{
    [Fact]
    public void Split_cuts_at_the_last_space_and_keeps_it_on_the_target()
    {
        LambadaPassage passage = LambadaPassage.Split("she opened the  door");
        Assert.Equal("she opened the ", passage.Context);
        Assert.Equal(" door", passage.Target);
        Assert.Equal("door", passage.Word);
        Assert.Equal("she opened the  door", passage.Text);
    }

    [Theory]
    [InlineData("nospace")]
    [InlineData("ends with a space ")]
    [InlineData(" word")]
    public void Split_rejects_texts_without_a_context_and_a_word(string text) =>
        Assert.Throws<FormatException>(() => LambadaPassage.Split(text));

    [Fact]
    public void Reads_the_jsonl_format_and_skips_blank_lines()
    {
        using var folder = new TempDirectory();
        string path = folder.Write("lambada_test.jsonl",
            "{\"text\": \"in my palm is a clear stone , and inside it is a small ivory statuette . " +
            "\\\"what is it ?\\\" asked the \\u00e9lf\"}\n" +
            "\n" +
            "{\"text\": \"he handed her the key\", \"extra\": 1}\n");
        IReadOnlyList<LambadaPassage> passages = LambadaReader.Read(path);
        Assert.Equal(2, passages.Count);
        Assert.Equal(" élf", passages[0].Target);
        Assert.EndsWith("\"what is it ?\" asked the", passages[0].Context);
        Assert.Equal(new LambadaPassage("he handed her the", " key"), passages[1]);
    }

    [Theory]
    [InlineData("{\"text\": \"fine text\"}\nnot json\n", "line 2", "not valid JSON")]
    [InlineData("[1, 2]\n", "line 1", "expected a JSON object")]
    [InlineData("{\"text\": \"fine text\"}\n{\"body\": \"a b\"}\n", "line 2", "no field \"text\"")]
    [InlineData("{\"text\": 5}\n", "line 1", "not a string")]
    [InlineData("{\"text\": \"ok text\"}\n\n{\"text\": \"oneword\"}\n", "line 3", "no space")]
    public void Malformed_lines_are_reported_with_file_and_line(string content, string where, string what)
    {
        using var folder = new TempDirectory();
        string path = folder.Write("bad.jsonl", content);
        var error = Assert.Throws<InvalidDataException>(() => LambadaReader.Read(path));
        Assert.Contains($"{path}, {where}", error.Message);
        Assert.Contains(what, error.Message);
    }

    [Fact]
    public void A_missing_or_empty_file_is_an_error()
    {
        using var folder = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => LambadaReader.Read(folder.File("absent.jsonl")));
        Assert.Throws<InvalidDataException>(() => LambadaReader.Read(folder.Write("empty.jsonl", "\n\n")));
    }
}
