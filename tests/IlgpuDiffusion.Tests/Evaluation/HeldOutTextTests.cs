using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>Prompts and documents recovered from validation shards packed as MDLM wraps them.</summary>
public sealed class HeldOutTextTests : IDisposable
{
    private static readonly string[] Documents =
    [
        "First document, with a few words.", "Second one here.", "A third document that runs a little longer than the others.",
        "A fourth, kept for training.", "Fifth.",
    ];

    private const double Fraction = 0.6;

    /// <summary>The held-out documents in corpus order.</summary>
    private static string[] HeldOut()
    {
        var split = new TrainValidationSplit(Documents.Length, Fraction, seed: 0);
        return Documents.Where((_, i) => split.IsValidation(i)).ToArray();
    }

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private TokenShardSet Validation()
    {
        for (int i = 0; i < Documents.Length; i++) _temp.Write($"corpus/{i}.txt", Documents[i]);
        var options = new CorpusPreparationOptions { SequenceLength = 8, ValidationFraction = Fraction };
        return CorpusPreparer.Prepare([_temp.File("corpus")], _temp.File("shards"), options).OpenValidation();
    }

    [Fact]
    public void Documents_come_back_from_the_packed_chunks()
    {
        using TokenShardSet validation = Validation();
        IReadOnlyList<string> documents = HeldOutText.Documents(validation, Gpt2Tokenizer.Shared);
        // Every document but the last is whole; the last is cut where the packer dropped its remainder.
        string[] expected = HeldOut();
        Assert.True(expected.Length >= 2);
        Assert.Equal(expected.Length, documents.Count);
        Assert.Equal(expected[..^1], documents.Take(expected.Length - 1));
        Assert.StartsWith(documents[^1], expected[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Prompts_are_sequence_starts_spread_over_the_split_with_their_true_continuations()
    {
        using TokenShardSet validation = Validation();
        IReadOnlyList<HeldOutPrompt> prompts = HeldOutText.Prompts(validation, count: 2, promptLength: 3, referenceLength: 4);
        var sequence = new int[8];
        for (int i = 0; i < 2; i++)
        {
            validation.CopySequence(i * validation.SequenceCount / 2, sequence);
            Assert.Equal(sequence[..3], prompts[i].Prompt);
            Assert.Equal(sequence[3..7], prompts[i].Reference);
            Assert.Equal(sequence[..7], prompts[i].Sequence());
        }
        Assert.Equal(Gpt2Tokenizer.Bos, prompts[0].Prompt[0]);
        Assert.Throws<ArgumentException>(() => HeldOutText.Prompts(validation, 1, 5, 4));
        Assert.Throws<ArgumentException>(() => HeldOutText.Prompts(validation, (int)validation.SequenceCount + 1, 3, 4));
    }
}
