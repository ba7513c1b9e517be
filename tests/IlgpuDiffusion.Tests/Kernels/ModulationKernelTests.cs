using Xunit;

namespace IlgpuDiffusion.Tests.IlgpuBackend;

/// <summary>adaLN modulation and gated residual, forward and backward (token reductions) on ilgpu-cpu.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class ModulationKernelTests(IlgpuCpuFixture fixture)
{
    private const int Batch = 2, Tokens = 7, Channels = 5, N = Batch * Tokens * Channels, V = Batch * Channels;

    private static int Vec(int i) => i / (Tokens * Channels) * Channels + i % Channels;

    [Fact]
    public void ModulateMatchesHost()
    {
        float[] x = TestData.Random(N, 1), shift = TestData.Random(V, 2), scale = TestData.Random(V, 3), dy = TestData.Random(N, 4);
        float[] dx0 = TestData.Random(N, 5), dShift0 = TestData.Random(V, 6), dScale0 = TestData.Random(V, 7);

        var output = fixture.Upload(new float[N]);
        fixture.Kernels.ModulateForward(fixture.Upload(x), fixture.Upload(shift), fixture.Upload(scale), output, Batch, Tokens, Channels);
        TestData.Close(Enumerable.Range(0, N).Select(i => x[i] * (1.0 + scale[Vec(i)]) + shift[Vec(i)]).ToArray(), output.ToArray(), 1e-6);

        var expectedDx = Enumerable.Range(0, N).Select(i => dx0[i] + dy[i] * (1.0 + scale[Vec(i)])).ToArray();
        var expectedDShift = dShift0.Select(v => (double)v).ToArray();
        var expectedDScale = dScale0.Select(v => (double)v).ToArray();
        for (int i = 0; i < N; i++)
        {
            expectedDShift[Vec(i)] += dy[i];
            expectedDScale[Vec(i)] += (double)dy[i] * x[i];
        }
        var dInput = fixture.Upload(dx0);
        var dShift = fixture.Upload(dShift0);
        var dScale = fixture.Upload(dScale0);
        fixture.Kernels.ModulateBackward(fixture.Upload(dy), fixture.Upload(x), fixture.Upload(scale), dInput, dShift, dScale, Batch, Tokens, Channels);
        TestData.Close(expectedDx, dInput.ToArray(), 1e-6);
        TestData.Close(expectedDShift, dShift.ToArray(), 1e-5);
        TestData.Close(expectedDScale, dScale.ToArray(), 1e-5);
    }

    [Fact]
    public void GatedResidualMatchesHostInPlace()
    {
        float[] residual = TestData.Random(N, 1), branch = TestData.Random(N, 2), gate = TestData.Random(V, 3), dy = TestData.Random(N, 4);
        float[] dBranch0 = TestData.Random(N, 5), dGate0 = TestData.Random(V, 6);

        var residualTensor = fixture.Upload(residual);
        fixture.Kernels.GatedResidualForward(residualTensor, fixture.Upload(branch), fixture.Upload(gate), residualTensor, Batch, Tokens, Channels);
        TestData.Close(Enumerable.Range(0, N).Select(i => residual[i] + (double)gate[Vec(i)] * branch[i]).ToArray(), residualTensor.ToArray(), 1e-6);

        var expectedDBranch = Enumerable.Range(0, N).Select(i => dBranch0[i] + (double)gate[Vec(i)] * dy[i]).ToArray();
        var expectedDGate = dGate0.Select(v => (double)v).ToArray();
        for (int i = 0; i < N; i++) expectedDGate[Vec(i)] += (double)dy[i] * branch[i];
        var dBranch = fixture.Upload(dBranch0);
        var dGate = fixture.Upload(dGate0);
        fixture.Kernels.GatedResidualBackward(fixture.Upload(dy), fixture.Upload(branch), fixture.Upload(gate), dBranch, dGate, Batch, Tokens, Channels);
        TestData.Close(expectedDBranch, dBranch.ToArray(), 1e-6);
        TestData.Close(expectedDGate, dGate.ToArray(), 1e-5);
    }
}
