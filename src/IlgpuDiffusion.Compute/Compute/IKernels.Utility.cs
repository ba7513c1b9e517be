namespace IlgpuDiffusion.Compute;

// Utilities: fill and copy.
public partial interface IKernels
{
    /// <summary>x[i] = value for i &lt; count.</summary>
    void Fill(Tensor<float> x, float value, int count);

    /// <summary>destination[i] = source[i] for i &lt; count.</summary>
    void Copy(Tensor<float> source, Tensor<float> destination, int count);
}
