namespace IlgpuDiffusion.Compute;

// LayerNorm without bias.
public partial interface IKernels
{
    /// <summary>output = (x − mean)·rstd·weight per row; biased variance; saves mean and rstd.</summary>
    /// <param name="input">[rows, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="output">[rows, channels], overwritten</param>
    /// <param name="mean">[rows], overwritten</param>
    /// <param name="rstd">[rows], overwritten: 1/sqrt(var + eps)</param>
    void LayerNormForward(Tensor<float> input, Tensor<float> weight, Tensor<float> output, Tensor<float> mean, Tensor<float> rstd,
        int rows, int channels, float eps);

    /// <summary>dInput += ∂L/∂input; dWeight += Σ_rows dOutput·x̂.</summary>
    /// <param name="dOutput">[rows, channels]</param>
    /// <param name="input">[rows, channels]</param>
    /// <param name="weight">[channels]</param>
    /// <param name="mean">[rows]</param>
    /// <param name="rstd">[rows]</param>
    /// <param name="dInput">[rows, channels]</param>
    /// <param name="dWeight">[channels]</param>
    void LayerNormBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight, Tensor<float> mean, Tensor<float> rstd,
        Tensor<float> dInput, Tensor<float> dWeight, int rows, int channels);
}
