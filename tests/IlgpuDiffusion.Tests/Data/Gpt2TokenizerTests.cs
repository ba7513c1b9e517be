using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class Gpt2TokenizerTests
{
    private static readonly Gpt2Tokenizer Tokenizer = Gpt2Tokenizer.Shared;

    [Fact]
    public void Constants_follow_the_MDLM_vocabulary()
    {
        Assert.Equal(50257, Gpt2Tokenizer.VocabularySize);
        Assert.Equal(50256, Gpt2Tokenizer.Bos);
        Assert.Equal(50256, Gpt2Tokenizer.Eos);
        Assert.Equal(50257, Gpt2Tokenizer.Mask);
        Assert.Equal(50258, Gpt2Tokenizer.ModelVocabularySize);
    }

    [Fact]
    public void Hello_world_has_the_known_GPT2_ids() =>
        Assert.Equal([15496, 995], Tokenizer.Encode("Hello world"));

    [Fact]
    public void Known_ids_of_a_longer_sentence_and_end_of_text() =>
        Assert.Equal([464, 2068, 7586, 21831, 13, 50256], Tokenizer.Encode("The quick brown fox.<|endoftext|>"));

    [Theory]
    [InlineData("héllo wörld, ça va? Ελληνικά, русский, 中文, 日本語, 한국어")]
    [InlineData("emoji 🎉👩‍👩‍👧🏳️‍🌈 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")]
    [InlineData("   leading spaces,\ttabs\t\t, runs     of spaces\n\n\n\r\n and trailing   ")]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\u00A0\u2003zero\u200Bwidth\uFEFF")]
    public void Decode_inverts_encode_exactly(string text) =>
        Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text)));

    [Fact]
    public void Decode_shows_special_ids_unless_asked_to_skip_them()
    {
        int[] ids = [Gpt2Tokenizer.Bos, 15496, Gpt2Tokenizer.Mask, 995, Gpt2Tokenizer.Eos];
        Assert.Equal("<|endoftext|>Hello[MASK] world<|endoftext|>", Tokenizer.Decode(ids));
        Assert.Equal("Hello world", Tokenizer.Decode(ids, skipSpecial: true));
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_model_vocabulary()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([15496, 50258]));
        Assert.Contains("50258", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([-1]));
    }

    [Fact]
    public void Parallel_encoding_matches_sequential_encoding()
    {
        string[] texts = Enumerable.Range(0, 64).Select(i => $"Document {i}: {new string('x', i)} the nation's {i * 7} states.").ToArray();
        int[][] sequential = texts.Select(Tokenizer.Encode).ToArray();
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => parallel[i] = Tokenizer.Encode(texts[i]));
        Assert.Equal(sequential, parallel);
    }
}
