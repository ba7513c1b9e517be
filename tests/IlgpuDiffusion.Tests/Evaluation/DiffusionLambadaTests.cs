using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

/// <summary>
/// Diffusion LAMBADA on a model whose head ignores its input (zero weight, bias b at one chosen token): the argmax is
/// that token everywhere, and every SUBS probability is known in closed form, so the ELBO has a hand reference.
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class DiffusionLambadaTests
{
    private const int Chosen = 5, Other = 7, Eos = 9;
    private const float Bias = 2f;

    private static Dit ChosenTokenModel()
    {
        Dit model = TinyModels.NewSamplerDit(seed: 8);
        int v = model.Config.Vocab, d = model.Config.Hidden;
        model.Parameters.OutputWeight.CopyFrom(new float[v * d]);
        var bias = new float[v];
        bias[Chosen] = Bias;
        model.Parameters.OutputBias.CopyFrom(bias);
        return model;
    }

    [Fact]
    public void Accuracy_is_exact_match_of_the_one_pass_argmax_and_the_word_nll_is_the_antithetic_elbo()
    {
        using Dit model = ChosenTokenModel();
        LambadaExample[] examples =
        [
            new([1, 2, 3], [Chosen, Chosen, Eos]),   // every word token is the argmax
            new([1, 2, 3, 4], [Chosen, Other, Eos]), // the second token is not
            new([1, 2], [Chosen, Eos]),
        ];
        const int draws = 32;
        const ulong seed = 11;
        IReadOnlyList<LambadaOutcome> outcomes = DiffusionLambada.Score(model, examples, draws, seed);

        Assert.Equal([true, false, true], outcomes.Select(o => o.Correct));
        Assert.Equal([2, 2, 1], outcomes.Select(o => o.WordTokens));
        int textIds = model.Config.Vocab - 1; // MASK excluded by SUBS
        double normalizer = Math.Exp(Bias) + (textIds - 1);
        for (int i = 0; i < examples.Length; i++)
        {
            LambadaExample example = examples[i];
            int length = example.Sequence().Length;
            var times = new double[draws];
            TimeSampler.Sdtt.Sample(seed, 2 * (ulong)i, times);
            double expected = 0;
            for (int d = 0; d < draws; d++)
                for (int k = 0; k < example.WordLength; k++)
                {
                    int p = example.WordStart + k;
                    var uniform = Philox.Uniform(seed, 2 * (ulong)i + 1, (long)d * length + p);
                    if (uniform >= NoiseSchedule.LogLinear.MoveChance(times[d])) continue;
                    double probability = (example.WordIds[k] == Chosen ? Math.Exp(Bias) : 1) / normalizer;
                    expected += -Math.Log(probability) / times[d];
                }
            expected /= draws;
            Assert.True(expected > 0, "the draws mask some word token");
            Assert.Equal(expected, outcomes[i].WordNll, expected * 1e-5);
        }
        LambadaResult result = LambadaScoring.Summarize(outcomes);
        Assert.Equal(2.0 / 3, result.Accuracy, 1e-12);
    }

    [Fact]
    public void Is_deterministic_for_a_seed_and_truncates_long_contexts()
    {
        using Dit model = ChosenTokenModel();
        int[] longContext = [1, .. Enumerable.Range(0, 20).Select(i => i % 30)];
        LambadaExample[] examples = [new(longContext, [Other, Eos]), new([1, 2, 3], [Chosen, Other, Eos])];
        var first = DiffusionLambada.Score(model, examples, timeDraws: 8, seed: 3);
        var second = DiffusionLambada.Score(model, examples, timeDraws: 8, seed: 3);
        var other = DiffusionLambada.Score(model, examples, timeDraws: 8, seed: 4);
        Assert.Equal(first, second);
        Assert.NotEqual(first[1].WordNll, other[1].WordNll);
        Assert.False(first[0].Correct);

        LambadaExample truncated = examples[0].TruncatedTo(model.Config.Length);
        Assert.Equal(model.Config.Length, truncated.Sequence().Length);
        Assert.Equal(1, truncated.ContextIds[0]);
        Assert.Equal(longContext[^1], truncated.ContextIds[^1]);
        Assert.Throws<ArgumentException>(() => DiffusionLambada.Score(model, [new([1], [model.Config.MaskIndex, Eos])]));
    }
}
