using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

/// <summary>The tokenizer as a choice: the built-ins by name, and GPT-2 seen through the common type.</summary>
public sealed class TokenizerTests
{
    [Fact]
    public void The_built_ins_are_found_by_the_names_metadata_records()
    {
        Assert.Equal(["gpt2", "bytes"], Tokenizer.Names);
        Assert.Same(Gpt2Tokenizer.Shared, Tokenizer.FromName("gpt2"));
        Assert.Same(ByteTokenizer.Shared, Tokenizer.FromName("bytes"));
        Assert.All(Tokenizer.Names, name => Assert.Equal(name, Tokenizer.FromName(name).Name));
    }

    [Theory]
    [InlineData("GPT2")]
    [InlineData("bpe")]
    [InlineData("")]
    public void An_unknown_name_is_refused_with_the_known_ones(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => Tokenizer.FromName(name));
        Assert.Contains($"Unknown tokenizer '{name}'", error.Message);
        Assert.Contains("gpt2, bytes", error.Message);
        Assert.Throws<ArgumentNullException>(() => Tokenizer.FromName(null!));
    }

    [Fact]
    public void GPT2_through_the_common_type_has_its_constants()
    {
        Tokenizer gpt2 = Tokenizer.FromName("gpt2");
        Assert.Equal((Gpt2Tokenizer.Name, Gpt2Tokenizer.VocabularySize, Gpt2Tokenizer.EndOfText), (gpt2.Name, gpt2.VocabularySize,
            gpt2.EndOfText));
        Assert.Equal((Gpt2Tokenizer.Bos, Gpt2Tokenizer.Eos, Gpt2Tokenizer.Mask, Gpt2Tokenizer.ModelVocabularySize),
            (gpt2.Bos, gpt2.Eos, gpt2.Mask, gpt2.ModelVocabularySize));
        Assert.Equal([15496, 995], gpt2.Encode("Hello world"));
        Assert.Equal("<|endoftext|>Hello[MASK]", gpt2.Decode([50256, 15496, 50257]));
    }

    [Fact]
    public void A_thread_of_a_parallel_GPT2_encoding_gets_its_own_instance_with_the_same_ids()
    {
        Tokenizer worker = Gpt2Tokenizer.Shared.ForParallelEncoding();
        Assert.NotSame(Gpt2Tokenizer.Shared, worker);
        Assert.Equal(Gpt2Tokenizer.Shared.Encode("We the People"), worker.Encode("We the People"));
    }

    [Fact]
    public void A_model_config_may_use_fewer_ids_than_its_tokenizer_but_not_more()
    {
        Assert.Same(ByteTokenizer.Shared, Tokenizer.ForModel("bytes", 258));
        Assert.Same(Gpt2Tokenizer.Shared, Tokenizer.ForModel("gpt2", 32));
        var error = Assert.Throws<ArgumentException>(() => Tokenizer.ForModel("bytes", 50258));
        Assert.Contains("Vocab 50258 exceeds the bytes tokenizer's model vocabulary of 258", error.Message);
        Assert.Contains("Unknown tokenizer 'chars'", Assert.Throws<ArgumentException>(() => Tokenizer.ForModel("chars", 32)).Message);
    }
}
