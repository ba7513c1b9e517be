using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Models;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>AR LAMBADA by teacher forcing against the double reference forward of a tiny random GPT.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ArLambadaTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Exact_match_and_word_nll_follow_the_teacher_forced_reference(string backend)
    {
        var config = TinyModels.RandomGpt(GptPositions.Learned, tied: true);
        var weights = TinyModels.HfWeights(config, seed: 51);
        using var model = new Gpt(config, TestBackends.Get(backend), withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, weights);
        const int eos = 10;
        int[] context = [eos, 4, 2];
        // The greedy word: each token the reference argmax after the tokens before it.
        int first = Argmax(Row(config, weights, [.. context, 0], 2));
        int second = Argmax(Row(config, weights, [.. context, first, 0], 3));
        LambadaExample[] examples =
        [
            new(context, [first, second, eos]),
            new(context, [first, (second + 1) % config.Vocab, eos]),
            new([eos, 3], [(Argmax(Row(config, weights, [eos, 3], 1)) + 1) % config.Vocab, eos]),
        ];
        IReadOnlyList<LambadaOutcome> outcomes = ArLambada.Score(model, examples);

        Assert.Equal([true, false, false], outcomes.Select(o => o.Correct));
        for (int i = 0; i < examples.Length; i++)
        {
            int[] sequence = examples[i].Sequence();
            double nll = 0;
            for (int k = 0; k < examples[i].WordLength; k++)
            {
                double[] row = Row(config, weights, sequence, examples[i].WordStart - 1 + k);
                double max = row.Max(), sum = row.Sum(x => Math.Exp(x - max));
                nll -= row[examples[i].WordIds[k]] - max - Math.Log(sum);
            }
            Assert.Equal(nll, outcomes[i].WordNll, nll * 1e-4);
            Assert.Equal(examples[i].WordLength, outcomes[i].WordTokens);
        }
    }

    /// <summary>The reference logits at <paramref name="position"/> of <paramref name="ids"/> (one sequence).</summary>
    private static double[] Row(GptConfig config, Dictionary<string, float[]> weights, int[] ids, int position) =>
        ReferenceGpt.Logits(config, weights, ids, 1, ids.Length).AsSpan(position * config.Vocab, config.Vocab).ToArray();

    private static int Argmax(double[] row) => Array.IndexOf(row, row.Max());
}
