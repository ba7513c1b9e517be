using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>
/// Evaluation in the models' tokenizer: retokenization between tokenizers, LAMBADA framing, held-out documents and AR
/// samples in byte ids, and the suite's refusals of models or a retokenization that do not agree.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class EvaluationTokenizerTests
{
    private static readonly ByteTokenizer Bytes = ByteTokenizer.Shared;

    [Fact]
    public void Byte_samples_retokenize_with_their_document_ends_kept_as_end_of_text_ids()
    {
        int[] sample = [256, .. Bytes.Encode("Hi"), 256, .. Bytes.Encode("yo")];
        Retokenization bytes = Retokenization.For(Bytes, Bytes);
        Assert.Equal(("bytes", 256), (bytes.SampleTokenizer, bytes.JudgeEndOfText));
        Assert.Equal("<|endoftext|>Hi<|endoftext|>yo", bytes.DecodeSample(sample));
        Assert.Equal(sample, bytes.EncodeForJudge(bytes.DecodeSample(sample)));
        Retokenization stripped = Retokenization.For(Bytes, Bytes, stripEndOfText: true);
        Assert.Equal(Bytes.Encode("Hiyo"), stripped.EncodeForJudge(stripped.DecodeSample(sample)));

        Retokenization toGpt2 = Retokenization.For(Bytes, Gpt2Tokenizer.Shared);
        Assert.Equal([15496, 50256], toGpt2.EncodeForJudge(toGpt2.DecodeSample([.. Bytes.Encode("Hello"), 256])));
    }

    [Theory]
    [InlineData("The quick brown fox.<|endoftext|> It ran<|endoftext|><|endoftext|>")]
    [InlineData("<|endoftext|>é€ and 🎉")]
    [InlineData("no document end at all")]
    public void GPT2_retokenization_encodes_as_the_GPT2_tokenizer_does_by_itself(string text)
    {
        Retokenization gpt2 = Retokenization.Gpt2();
        Assert.Equal(("gpt2", 50256), (gpt2.SampleTokenizer, gpt2.JudgeEndOfText));
        Assert.Equal(Gpt2Tokenizer.Shared.Encode(text), gpt2.EncodeForJudge(text));
    }

    [Fact]
    public void A_lambada_passage_in_bytes_is_framed_by_the_byte_end_of_text()
    {
        LambadaExample example = LambadaExample.Tokenize(new LambadaPassage("He paid with a", " coin"), Bytes);
        Assert.Equal([256, .. Bytes.Encode("He paid with a")], example.ContextIds);
        Assert.Equal([.. Bytes.Encode(" coin"), 256], example.TargetIds);
        Assert.Equal(Gpt2Tokenizer.Bos, LambadaExample.Tokenize(new LambadaPassage("He paid with a", " coin")).ContextIds[0]);
    }

    [Fact]
    public void Held_out_byte_documents_decode_back_to_their_text()
    {
        using var temp = new TempDirectory();
        string[] documents = ["First held-out document, with ü.", "Second one 🎉 here.", "Third and last, cut by the packer."];
        for (int i = 0; i < documents.Length; i++) temp.Write($"corpus/{i}.txt", documents[i]);
        PreparedCorpus prepared = CorpusPreparer.Prepare([temp.File("corpus")], temp.File("shards"),
            new CorpusPreparationOptions { SequenceLength = 12, ValidationFraction = 0, Tokenizer = Bytes });
        using TokenShardSet shards = prepared.OpenTrain();
        IReadOnlyList<string> read = HeldOutText.Documents(shards, Bytes);
        Assert.Equal(documents[..2], read.Take(2));
        Assert.StartsWith(read[2], documents[2], StringComparison.Ordinal);
    }

    [Fact]
    public void An_AR_model_over_bytes_starts_its_samples_with_the_byte_BOS()
    {
        using var model = new Gpt(TinyModels.LearningGpt(vocab: 257, length: 8) with { Tokenizer = "bytes" }, TinyModels.Cpu,
            withGradients: false);
        model.Initialize(seed: 4);
        int[][] samples = ArGeneration.Unconditional(model, count: 2, length: 6, batchSize: 2, seed: 1);
        Assert.All(samples, s => Assert.Equal(256, s[0]));
        using var small = new Gpt(TinyModels.LearningGpt(vocab: 100, length: 8) with { Tokenizer = "bytes" }, TinyModels.Cpu,
            withGradients: false);
        Assert.Contains("do not hold its tokenizer's BOS (256)",
            Assert.Throws<ArgumentException>(() => ArGeneration.Unconditional(small, 1, 6, 1, seed: 1)).Message);
    }

    [Fact]
    public void The_suite_refuses_models_of_different_tokenizers_and_a_retokenization_of_another()
    {
        using var gpt2 = new Dit(TinyModels.RandomDit(), TinyModels.Cpu, withGradients: false);
        using var bytes = new Dit(TinyModels.RandomDit() with { Tokenizer = "bytes" }, TinyModels.Cpu, withGradients: false);
        var mixed = new EvaluationInputs { DiffusionModels = [new("a", gpt2), new("b", bytes)] };
        var error = Assert.Throws<ArgumentException>(() => new EvaluationSuite().Run(mixed));
        Assert.Contains("The models use different tokenizers (a: gpt2, b: bytes)", error.Message);

        var byteModels = new EvaluationInputs { DiffusionModels = [new("b", bytes)], Judge = new UnusedJudge() };
        error = Assert.Throws<ArgumentException>(() => new EvaluationSuite().Run(byteModels));
        Assert.Contains("decodes gpt2 samples, but the models use the bytes tokenizer", error.Message);
        var none = new EvaluationOptions { Parts = EvaluationParts.None };
        Assert.Empty(new EvaluationSuite(none).Run(byteModels).Rows);
        Assert.Empty(new EvaluationSuite(none with { Retokenization = Retokenization.For(Bytes, Bytes) }).Run(byteModels).Rows);
    }

    /// <summary>A judge the suite must refuse to reach.</summary>
    private sealed class UnusedJudge : ITokenScorer
    {
        public int MaxLength => 16;

        public void ScoreNextTokens(ReadOnlySpan<int> ids, int batch, int length, Span<float> logLikelihoods) =>
            throw new InvalidOperationException("The suite should have refused the inputs before scoring.");
    }
}
