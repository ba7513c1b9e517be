namespace IlgpuDiffusion.Compute;

// Dropout with a counter-based (Philox) mask.
public partial interface IKernels
{
    /// <summary>
    /// output[i] = keep(i) ? input[i]/(1−p) : 0 with keep(i) = <see cref="Philox.Uniform"/>(seed, stream, i) ≥ p.
    /// The mask is regenerated from (seed, stream) in backward, never stored. output may be input.
    /// </summary>
    void DropoutForward(Tensor<float> input, Tensor<float> output, int count, float probability, ulong seed, ulong stream);

    /// <summary>
    /// dInput += keep(i) ? dOutput[i]/(1−p) : 0, with the mask of the forward call; dInput = when not
    /// <paramref name="accumulate"/> (dInput is not read).
    /// </summary>
    void DropoutBackward(Tensor<float> dOutput, Tensor<float> dInput, int count, float probability, ulong seed, ulong stream,
        bool accumulate = true);
}
