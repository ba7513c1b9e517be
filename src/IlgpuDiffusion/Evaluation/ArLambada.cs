using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// LAMBADA for an autoregressive model by teacher forcing (SDTT's <c>harness_gpt2.py --add_bos --add_eos</c>,
/// docs/algorithms.md §5.5): one causal pass over [BOS] + context + word + EOS; the output at position
/// <see cref="LambadaExample.WordStart"/> − 1 + k predicts word token k. The example is correct when the argmax at
/// every word position equals the word token (EOS not required); the word NLL is the sum of the word tokens' −log p.
/// Examples run one at a time without padding; those longer than the model's context lose their oldest context tokens
/// (<see cref="LambadaExample.TruncatedTo"/>).
/// </summary>
public static class ArLambada
{
    /// <summary>Scores every example; the outcomes are in the order of <paramref name="examples"/>.</summary>
    /// <param name="progress">Called with (examples done, total) after each example.</param>
    /// <exception cref="ArgumentException">No example, or an id outside the model's vocabulary.</exception>
    public static IReadOnlyList<LambadaOutcome> Score(Gpt model, IReadOnlyList<LambadaExample> examples, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("LAMBADA needs at least one example.", nameof(examples));
        int vocab = model.Config.Vocab;
        var fitted = new LambadaExample[examples.Count];
        for (int i = 0; i < fitted.Length; i++)
        {
            LambadaExample example = examples[i] ?? throw new ArgumentException($"Example {i} is null.", nameof(examples));
            fitted[i] = example.TruncatedTo(model.Config.Length);
            foreach (int id in fitted[i].Sequence())
                if ((uint)id >= (uint)vocab)
                    throw new ArgumentException($"Example {i} holds token {id}, outside the model's {vocab} tokens.", nameof(examples));
        }
        int maxWord = fitted.Max(e => e.WordLength);
        Device device = model.Device;
        IKernels k = device.Kernels;
        using var targets = device.AllocateTensor<int>(new Shape(maxWord));
        using var predicted = device.AllocateTensor<int>(new Shape(maxWord));
        using var losses = device.AllocateTensor<float>(new Shape(maxWord));
        using var weights = device.Upload<float>(Enumerable.Repeat(1f, maxWord).ToArray(), new Shape(maxWord));
        var hostPredicted = new int[maxWord];
        var hostLosses = new float[maxWord];
        var outcomes = new LambadaOutcome[fitted.Length];
        GptActivations? activations = null;
        Tensor<int> ids = default;
        try
        {
            int done = 0;
            foreach (int i in Enumerable.Range(0, fitted.Length).OrderBy(i => fitted[i].ContextIds.Length + fitted[i].TargetIds.Length))
            {
                LambadaExample example = fitted[i];
                int[] sequence = example.Sequence();
                if (activations?.Tokens != sequence.Length)
                {
                    activations?.Dispose();
                    if (activations is not null) ids.Buffer.Dispose();
                    activations = model.CreateActivations(1, sequence.Length, training: false,
                        headCapacity: Math.Min(maxWord, sequence.Length));
                    ids = device.AllocateTensor<int>(new Shape(sequence.Length));
                }
                int word = example.WordLength;
                ids.CopyFrom(sequence);
                targets.Slice(0, word).CopyFrom(example.WordIds);
                model.ForwardTrunk(activations, ids);
                Tensor<float> logits = model.ForwardHead(activations, example.WordStart - 1, word);
                k.Argmax(logits, predicted.Slice(0, word), word, model.Config.PaddedVocab, vocab);
                k.CrossEntropy(logits, targets.Slice(0, word), weights.Slice(0, word), losses.Slice(0, word), null, word,
                    model.Config.PaddedVocab, vocab, 1f);
                predicted.Slice(0, word).CopyTo(hostPredicted.AsSpan(0, word));
                losses.Slice(0, word).CopyTo(hostLosses.AsSpan(0, word));
                double nll = 0;
                for (int r = 0; r < word; r++) nll += hostLosses[r];
                outcomes[i] = new LambadaOutcome(LambadaScoring.IsExactMatch(hostPredicted.AsSpan(0, word), example), nll, word);
                progress?.Invoke(++done, fitted.Length);
            }
        }
        finally
        {
            if (activations is not null)
            {
                activations.Dispose();
                ids.Buffer.Dispose();
            }
        }
        return outcomes;
    }
}
