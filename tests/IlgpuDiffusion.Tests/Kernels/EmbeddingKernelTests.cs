using IlgpuDiffusion.Compute;
using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>Embedding lookup and its scatter-add (repeated ids) on ilgpu-cpu.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class EmbeddingKernelTests(IlgpuCpuFixture fixture)
{
    [Fact]
    public void LookupAndScatterAddMatchHost()
    {
        const int vocab = 5, channels = 3;
        int[] ids = [4, 0, 4, 2, 4, 1, 0];
        int rows = ids.Length;
        float[] table = TestData.Random(vocab * channels, 1), dy = TestData.Random(rows * channels, 2), dTable0 = TestData.Random(vocab * channels, 3);

        var output = fixture.Upload(new float[rows * channels]);
        fixture.Kernels.EmbeddingForward(fixture.Upload(ids), fixture.Upload(table), output, rows, vocab, channels);
        var expected = new double[rows * channels];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++) expected[r * channels + c] = table[ids[r] * channels + c];
        TestData.Close(expected, output.ToArray(), 0);

        var dTable = fixture.Upload(dTable0);
        fixture.Kernels.EmbeddingBackward(fixture.Upload(ids), fixture.Upload(dy), dTable, rows, vocab, channels);
        var expectedGrad = dTable0.Select(v => (double)v).ToArray();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < channels; c++) expectedGrad[ids[r] * channels + c] += dy[r * channels + c];
        TestData.Close(expectedGrad, dTable.ToArray(), 1e-6);
    }
}
