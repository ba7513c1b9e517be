namespace IlgpuDiffusion.Compute;

// Token embedding: the table lookup and its scatter-add gradient.
public partial interface IKernels
{
    /// <summary>output[r] = table[ids[r]].</summary>
    /// <param name="ids">[rows], each in [0, vocab)</param>
    /// <param name="table">[vocab, channels]</param>
    /// <param name="output">[rows, channels], overwritten</param>
    void EmbeddingForward(Tensor<int> ids, Tensor<float> table, Tensor<float> output, int rows, int vocab, int channels);

    /// <summary>dTable[ids[r]] += dOutput[r] (scatter-add).</summary>
    /// <param name="ids">[rows]</param>
    /// <param name="dOutput">[rows, channels]</param>
    /// <param name="dTable">[vocab, channels]</param>
    void EmbeddingBackward(Tensor<int> ids, Tensor<float> dOutput, Tensor<float> dTable, int rows, int vocab, int channels);
}
