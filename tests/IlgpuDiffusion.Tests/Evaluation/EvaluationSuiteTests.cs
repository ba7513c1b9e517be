using IlgpuDiffusion.Data;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>
/// The whole suite on tiny random models over the real GPT-2 vocabulary (a 1-block DiT and GPT, D 16), a prepared
/// corpus of a few documents and a three-line LAMBADA file: every part produces its metrics, and a seed fixes the report.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class EvaluationSuiteTests : IDisposable
{
    /// <summary>Short documents whose every second sentence ends with a word of the sentence before (cloze passages).</summary>
    private static readonly string[] Documents =
    [
        "The boat was red and old. He painted the boat. The river was cold in spring. Still he swam in the river.",
        "Our treasury holds more gold. The nation keeps its gold. Trade has grown with every nation. Congress should protect the nation.",
        "The children built a fort of snow. The teacher laughed at the fort. The sun was warm that week. Snow melted under the sun.",
        "Railways now join the coasts. Goods arrive in days by railway. Farmers sell their grain far away. Towns buy the grain.",
        "A letter came from the captain. The sailors cheered for the captain. The storm had broken the mast. Carpenters mended the mast.",
        "The library opened a room for maps. Students came to study the maps. The librarian kept a locked case. " +
            "Each evening she checked the case.",
    ];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static Dit Diffusion()
    {
        var model = new Dit(TinyModels.EvaluationDit, TinyModels.Cpu, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 61, scale: 0.3f);
        return model;
    }

    private static Gpt Autoregressive(ulong seed)
    {
        var model = new Gpt(TinyModels.EvaluationGpt(), TinyModels.Cpu, withGradients: false);
        model.Initialize(seed);
        return model;
    }

    private TokenShardSet Validation()
    {
        for (int i = 0; i < Documents.Length; i++) _temp.Write($"corpus/{i}.txt", Documents[i]);
        PreparedCorpus prepared = CorpusPreparer.Prepare([_temp.File("corpus")], _temp.File("shards"),
            new CorpusPreparationOptions
            {
                SequenceLength = TinyModels.EvaluationLength,
                ValidationFraction = 0.8,
                SequencesPerShard = 64,
            });
        return prepared.OpenValidation();
    }

    private IReadOnlyList<LambadaPassage> LambadaFile() => LambadaReader.Read(_temp.Write("lambada_test.jsonl",
        "{\"text\": \"She opened the door and saw the cat. The cat looked at her and ran to the cat\"}\n" +
        "{\"text\": \"He paid for the bread with a coin, the last coin\"}\n" +
        "{\"text\": \"They sang the song again because everyone loved the song\"}\n"));

    private static EvaluationOptions Options => new()
    {
        Steps = [2, 4],
        Samples = 4,
        SampleLength = 16,
        BatchSize = 4,
        Prompts = 3,
        PromptLength = 8,
        ContinuationLength = 8,
        LambadaTimeDraws = 4,
        Cloze = new LambadaClozeOptions { MinContextWords = 5, MaxContextWords = 25, MinWordLetters = 3 },
        ValidationBatchSize = 2,
        ValidationBatches = 2,
    };

    [Fact]
    public void Every_part_produces_its_metrics_and_a_seed_fixes_the_report()
    {
        using Dit teacher = Diffusion();
        using Gpt ar = Autoregressive(seed: 62);
        using Gpt judgeModel = Autoregressive(seed: 63);
        using var judge = new GptJudge(judgeModel, batchSize: 4);
        using TokenShardSet validation = Validation();
        var inputs = new EvaluationInputs
        {
            DiffusionModels = [new DiffusionSubject("teacher", teacher)],
            ArModel = new ArSubject("AR", ar),
            Judge = judge,
            Features = judge,
            JudgeDescription = "tiny judge",
            Validation = validation,
            Lambada = LambadaFile(),
        };
        var stages = new HashSet<string>();
        EvaluationReport report = new EvaluationSuite(Options, p => stages.Add(p.Stage)).Run(inputs, "tiny");

        Assert.Equal([("teacher", null), ("teacher", 2), ("teacher", 4), ("AR", (int?)null)], report.Rows.Select(r => (r.Model, r.Steps)));
        string[] likelihood = [EvaluationSuite.ValidationName, "LAMBADA acc", "LAMBADA PPL/word", "LAMBADA PPL/token", "Cloze acc",
            "Cloze PPL/word", "Cloze PPL/token"];
        Assert.Equal([likelihood[0], "CE t=0.1", "CE t=0.9", .. likelihood[1..]], report.Rows[0].Metrics.Select(m => m.Name));
        Assert.Equal([.. likelihood, "Gen PPL (SDTT)", EvaluationRow.EntropyName, "Gen PPL (MDLM)"],
            report.Rows[3].Metrics.Select(m => m.Name));
        foreach (EvaluationRow row in report.Rows.Where(r => r.Steps is not null))
            Assert.Equal(["Gen PPL (SDTT)", EvaluationRow.EntropyName, "Gen PPL (MDLM)", EvaluationRow.MauveName,
                EvaluationRow.SelfBleuName], row.Metrics.Select(m => m.Name));
        foreach (EvaluationMetric metric in report.Rows.SelectMany(r => r.Metrics))
            Assert.True(double.IsFinite(metric.Value) && metric.Value >= 0, $"{metric.Name} = {metric.Value}");
        Assert.All(report.Rows.SelectMany(r => r.Metrics).Where(m => m.Name.Contains("PPL", StringComparison.Ordinal)),
            m => Assert.True(m.Value >= 1));
        Assert.NotNull(report.Rows[1].Metrics.Single(m => m.Name == EvaluationRow.MauveName).StandardDeviation);
        Assert.Contains(report.Notes, n => n.StartsWith("Cloze: a LAMBADA-style", StringComparison.Ordinal));
        Assert.True(stages.SetEquals(["Validation perplexity", "LAMBADA", "Cloze", GenerativePerplexityRunner.Stage,
            GenerativePerplexityRunner.ScoringStage, PromptedGeneration.Stage]), string.Join(", ", stages));

        // The same seed gives the same samples, hence the same numbers (the likelihood parts are seeded the same way).
        var sampleParts = Options with { Steps = [2], Parts = EvaluationParts.GenerativePerplexity | EvaluationParts.PromptedGeneration };
        EvaluationReport again = new EvaluationSuite(sampleParts).Run(inputs, "tiny");
        Assert.Equal(report.Rows[1], again.Rows.Single(r => r.Steps == 2), new RowComparer());
        var otherSeedParts = Options with { Seed = 7, Parts = EvaluationParts.GenerativePerplexity };
        EvaluationReport otherSeed = new EvaluationSuite(otherSeedParts).Run(inputs, "tiny");
        Assert.NotEqual(report.Rows[1].Metrics[0].Value, otherSeed.Rows[0].Metrics[0].Value);

        var (json, markdown) = EvaluationSuite.Save(report, _temp.File("report"));
        Assert.Equal(report.ToJson(), EvaluationReport.Load(json).ToJson());
        Assert.Contains("| teacher | 2 |", File.ReadAllText(markdown));
    }

    /// <summary>Rows equal by model, steps and every metric (records compare lists by reference).</summary>
    private sealed class RowComparer : IEqualityComparer<EvaluationRow>
    {
        public bool Equals(EvaluationRow? x, EvaluationRow? y) =>
            x is not null && y is not null && x.Model == y.Model && x.Steps == y.Steps && x.Metrics.SequenceEqual(y.Metrics);

        public int GetHashCode(EvaluationRow row) => HashCode.Combine(row.Model, row.Steps);
    }

    [Fact]
    public void A_validation_split_smaller_than_one_batch_is_evaluated_as_one_batch()
    {
        using Dit teacher = Diffusion();
        using TokenShardSet validation = Validation();
        var options = Options with
        {
            ValidationBatchSize = (int)validation.SequenceCount + 5,
            Parts = EvaluationParts.ValidationPerplexity,
        };
        EvaluationReport report = new EvaluationSuite(options)
            .Run(new EvaluationInputs { DiffusionModels = [new DiffusionSubject("teacher", teacher)], Validation = validation });
        EvaluationRow row = Assert.Single(report.Rows);
        foreach (double time in EvaluationSuite.ContextTimes)
            Assert.True(row.Metrics.Single(m => m.Name == EvaluationSuite.MaskedCrossEntropyName(time)).Value > 0);
    }

    [Fact]
    public void Parts_without_inputs_are_skipped_with_a_note()
    {
        using Dit teacher = Diffusion();
        EvaluationReport report = new EvaluationSuite(Options)
            .Run(new EvaluationInputs { DiffusionModels = [new DiffusionSubject("teacher", teacher)] });
        Assert.Empty(report.Rows);
        Assert.Equal(5, report.Notes.Count(n => n.Contains("skipped", StringComparison.Ordinal)));
        Assert.Throws<ArgumentException>(() => new EvaluationSuite(Options).Run(new EvaluationInputs()));
        Assert.Throws<ArgumentException>(() => new EvaluationSuite(Options with { ContinuationsPerPrompt = 1 }));
    }

    [Fact]
    public void A_cancelled_evaluation_stops_at_its_next_progress_report()
    {
        using Dit teacher = Diffusion();
        using TokenShardSet validation = Validation();
        var inputs = new EvaluationInputs { DiffusionModels = [new DiffusionSubject("teacher", teacher)], Validation = validation };
        using var cancellation = new CancellationTokenSource();
        int reports = 0;
        var suite = new EvaluationSuite(Options, _ =>
        {
            reports++;
            cancellation.Cancel();
        });
        Assert.Throws<OperationCanceledException>(() => suite.Run(inputs, "tiny", cancellation.Token));
        Assert.Equal(1, reports);
    }
}
