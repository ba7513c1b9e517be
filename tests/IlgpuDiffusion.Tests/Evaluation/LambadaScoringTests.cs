using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class LambadaScoringTests
{
    // "Hello world": context "Hello" = [15496], target " world" = [995].
    private static readonly LambadaExample HelloWorld = LambadaExample.Tokenize(LambadaPassage.Split("Hello world"));

    [Fact]
    public void Tokenization_adds_BOS_before_the_context_and_EOS_after_the_target()
    {
        Assert.Equal([Gpt2Tokenizer.Bos, 15496], HelloWorld.ContextIds);
        Assert.Equal([995, Gpt2Tokenizer.Eos], HelloWorld.TargetIds);
        Assert.Equal(1, HelloWorld.WordLength);
        Assert.Equal(2, HelloWorld.WordStart);
        Assert.Equal([Gpt2Tokenizer.Bos, 15496, 995, Gpt2Tokenizer.Eos], HelloWorld.Sequence());
    }

    [Fact]
    public void A_word_of_several_tokens_is_masked_whole_and_EOS_stays_visible()
    {
        var example = new LambadaExample([Gpt2Tokenizer.Bos, 10, 11], [20, 21, 22, Gpt2Tokenizer.Eos]);
        Assert.Equal([Gpt2Tokenizer.Bos, 10, 11, Gpt2Tokenizer.Mask, Gpt2Tokenizer.Mask, Gpt2Tokenizer.Mask, Gpt2Tokenizer.Eos],
            LambadaScoring.MaskedInput(example));
    }

    [Fact]
    public void Exact_match_needs_every_word_token()
    {
        var example = new LambadaExample([Gpt2Tokenizer.Bos, 10], [20, 21, Gpt2Tokenizer.Eos]);
        Assert.True(LambadaScoring.IsExactMatch([20, 21], example));
        Assert.False(LambadaScoring.IsExactMatch([20, 99], example));
        Assert.False(LambadaScoring.IsExactMatch([99, 21], example));
        Assert.Throws<ArgumentException>(() => LambadaScoring.IsExactMatch([20, 21, Gpt2Tokenizer.Eos], example));
    }

    [Fact]
    public void Summary_gives_accuracy_word_and_token_perplexity()
    {
        LambadaResult result = LambadaScoring.Summarize([new(true, 2.0, 1), new(false, 4.0, 3)]);
        Assert.Equal(2, result.Examples);
        Assert.Equal(0.5, result.Accuracy);
        Assert.Equal(Math.Exp(3.0), result.WordPerplexity, 9);  // exp((2 + 4) / 2 examples)
        Assert.Equal(Math.Exp(1.5), result.TokenPerplexity, 9); // exp((2 + 4) / 4 tokens)
    }

    [Fact]
    public void Summary_rejects_empty_or_impossible_outcomes()
    {
        Assert.Throws<ArgumentException>(() => LambadaScoring.Summarize([]));
        Assert.Throws<ArgumentException>(() => LambadaScoring.Summarize([new(true, 1.0, 0)]));
        Assert.Throws<ArgumentException>(() => LambadaScoring.Summarize([new(true, double.NaN, 1)]));
    }
}
