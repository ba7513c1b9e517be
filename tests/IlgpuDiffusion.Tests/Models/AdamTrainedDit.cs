using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>A freshly initialized DiT on the CPU backend with its Adam moments: the plain training loops of the learning tests.</summary>
internal sealed class AdamTrainedDit : IDisposable
{
    private readonly DitParameters _firstMoment, _secondMoment;

    public AdamTrainedDit(DitConfig config, ulong seed)
    {
        Device = TinyModels.Cpu;
        Model = new Dit(config, Device);
        Model.Initialize(seed);
        _firstMoment = DitParameters.Allocate(config, Device);
        _secondMoment = DitParameters.Allocate(config, Device);
    }

    public Device Device { get; }

    public Dit Model { get; }

    /// <summary>One AdamW step (1-based <paramref name="step"/>) from the gradients of the last backward.</summary>
    public void Step(AdamWParameters hyper, int step) =>
        Device.Kernels.AdamWStep(Model.Parameters.All, Model.Gradients!.All, _firstMoment.All, _secondMoment.All,
            (int)Model.Parameters.All.Length, hyper, step, 1f);

    public void Dispose()
    {
        _secondMoment.Dispose();
        _firstMoment.Dispose();
        Model.Dispose();
    }
}
