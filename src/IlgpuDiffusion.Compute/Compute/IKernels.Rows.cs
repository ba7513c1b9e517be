namespace IlgpuDiffusion.Compute;

// Row gather and scatter-add (the output head is computed only for the rows that need it).
public partial interface IKernels
{
    /// <summary>destination[r] = source[indices[r]].</summary>
    /// <param name="source">[sourceRows, channels]</param>
    /// <param name="indices">[rows], each in [0, sourceRows)</param>
    /// <param name="destination">[rows, channels], overwritten</param>
    void GatherRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int sourceRows);

    /// <summary>destination[indices[r]] += source[r]; the indices must be distinct.</summary>
    /// <param name="source">[rows, channels]</param>
    /// <param name="indices">[rows], distinct, each in [0, destinationRows)</param>
    /// <param name="destination">[destinationRows, channels], accumulated</param>
    void ScatterAddRows(Tensor<float> source, Tensor<int> indices, Tensor<float> destination, int rows, int channels, int destinationRows);
}
