using System.Text;
using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class ByteTokenizerTests
{
    private static readonly ByteTokenizer Bytes = ByteTokenizer.Shared;

    [Fact]
    public void The_vocabulary_is_the_256_bytes_and_end_of_text_with_MASK_above()
    {
        Tokenizer tokenizer = Bytes;
        Assert.Equal(("bytes", 257, 256), (tokenizer.Name, tokenizer.VocabularySize, tokenizer.EndOfText));
        Assert.Equal((256, 256, 257, 258), (tokenizer.Bos, tokenizer.Eos, tokenizer.Mask, tokenizer.ModelVocabularySize));
    }

    [Fact]
    public void Ids_are_the_utf8_bytes_of_the_text()
    {
        Assert.Equal([72, 105], Bytes.Encode("Hi"));
        Assert.Equal([0xC3, 0xA9, 0xE2, 0x82, 0xAC], Bytes.Encode("é€"));
        Assert.Equal([0xF0, 0x9F, 0x8E, 0x89], Bytes.Encode("🎉"));
    }

    [Theory]
    [InlineData("The Congress shall make no law.")]
    [InlineData("héllo wörld, ça va? Ελληνικά, русский, 中文, 日本語, 한국어")]
    [InlineData("emoji 🎉👩‍👩‍👧🏳️‍🌈 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")]
    [InlineData("   tabs\t\t, runs     of spaces\n\n\r\n and trailing   ")]
    [InlineData("")]
    public void Decode_inverts_encode_exactly(string text)
    {
        int[] ids = Bytes.Encode(text);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 255));
        Assert.Equal(text, Bytes.Decode(ids));
    }

    [Fact]
    public void A_literal_end_of_text_marker_is_plain_text()
    {
        int[] ids = Bytes.Encode(Tokenizer.EndOfTextMarker);
        Assert.Equal(13, ids.Length);
        Assert.DoesNotContain(Bytes.EndOfText, ids);
    }

    [Fact]
    public void Decode_shows_special_ids_unless_asked_to_skip_them()
    {
        int[] ids = [256, .. Bytes.Encode("Hi"), 257, .. Bytes.Encode(" there"), 256];
        Assert.Equal("<|endoftext|>Hi[MASK] there<|endoftext|>", Bytes.Decode(ids));
        Assert.Equal("Hi there", Bytes.Decode(ids, skipSpecial: true));
    }

    [Fact]
    public void Invalid_utf8_decodes_to_replacement_characters()
    {
        Assert.Equal("\uFFFDa", Bytes.Decode([0xFF, 'a']));
        Assert.Equal("x\uFFFD", Bytes.Decode(['x', 0xE2, 0x82])); // "€" cut after two of its three bytes
        // End-of-text between the two bytes of "é" leaves both halves invalid.
        Assert.Equal("\uFFFD<|endoftext|>\uFFFD", Bytes.Decode([0xC3, 256, 0xA9]));
        // Skipping it joins them again.
        Assert.Equal("é", Bytes.Decode([0xC3, 256, 0xA9], skipSpecial: true));
    }

    [Theory]
    [InlineData(258)]
    [InlineData(50256)]
    [InlineData(-1)]
    public void Ids_outside_the_model_vocabulary_are_refused_by_number(int id)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Bytes.Decode([65, id]));
        Assert.Contains($"Token id {id} at position 1", error.Message);
        Assert.Contains("0..257", error.Message);
    }

    [Fact]
    public void Parallel_encoding_matches_sequential_encoding()
    {
        string[] texts = Enumerable.Range(0, 64).Select(i => $"Document {i}: ü{new string('x', i)} 🎉 {i * 7}.").ToArray();
        int[][] sequential = texts.Select(Bytes.Encode).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => parallel[i] = Bytes.ForParallelEncoding().Encode(texts[i]));
        Assert.Equal(sequential, parallel);
        Assert.Same(Bytes, Bytes.ForParallelEncoding());
    }
}
