namespace IlgpuDiffusion.Compute;

// Activations: GELU and SiLU.
public partial interface IKernels
{
    /// <summary>output = GELU(input), tanh approximation. output may be input.</summary>
    void GeluForward(Tensor<float> input, Tensor<float> output, int count);

    /// <summary>dInput += GELU'(input)·dOutput; dInput = when not <paramref name="accumulate"/> (dInput is not read).</summary>
    void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true);

    /// <summary>output = input·sigmoid(input). output may be input.</summary>
    void SiluForward(Tensor<float> input, Tensor<float> output, int count);

    /// <summary>dInput += SiLU'(input)·dOutput; dInput = when not <paramref name="accumulate"/> (dInput is not read).</summary>
    void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true);
}
