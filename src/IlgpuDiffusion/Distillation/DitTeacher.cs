using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Distillation;

/// <summary>
/// A frozen <see cref="Dit"/> as SDTT's teacher: eval mode (no dropout), no gradients, an inference arena whose head
/// holds one chunk of rows, and the output head computed only on the requested rows, whose logits become SUBS log-probs.
/// </summary>
internal sealed class DitTeacher : ITeacher, IDisposable
{
    private readonly DitActivations _activations;

    /// <summary>
    /// Creates a teacher of <paramref name="config"/> for batches of <paramref name="batch"/> × <paramref name="tokens"/> ids
    /// and head chunks of up to <paramref name="headRows"/> rows; its weights start at zero.
    /// </summary>
    public DitTeacher(DitConfig config, Device device, int batch, int tokens, int headRows)
    {
        Model = new Dit(config, device, withGradients: false);
        try
        {
            _activations = Model.CreateActivations(batch, tokens, training: false, headRows);
        }
        catch
        {
            Model.Dispose();
            throw;
        }
    }

    /// <summary>The teacher network; copy weights into its <see cref="Dit.Parameters"/>.</summary>
    public Dit Model { get; }

    /// <inheritdoc/>
    public HeadLayout Head => HeadLayout.Of(Model.Config);

    /// <inheritdoc/>
    public void Prepare(Tensor<int> ids, ReadOnlySpan<float> sigma) => Model.ForwardTrunk(_activations, ids, sigma);

    /// <inheritdoc/>
    public void LogProbs(Tensor<int> rows, int count, Tensor<float> logProbs)
    {
        Tensor<float> logits = Model.ForwardHead(_activations, rows, count); // [count, PaddedVocab]
        Model.Device.Kernels.SubsLogSoftmax(logits, logProbs, count, Head.Width, Head.Vocab, Head.MaskIndex);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _activations.Dispose();
        Model.Dispose();
    }
}
