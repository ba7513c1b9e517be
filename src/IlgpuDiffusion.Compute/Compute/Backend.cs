namespace IlgpuDiffusion.Compute;

/// <summary>Which implementation of the kernels a <see cref="Device"/> runs.</summary>
public enum Backend
{
    /// <summary>Managed SIMD code on the host CPU: the CPU path users run.</summary>
    Cpu,

    /// <summary>ILGPU kernels JIT-compiled to PTX for an NVIDIA GPU.</summary>
    Cuda,

    /// <summary>ILGPU kernels on ILGPU's CPU accelerator: a slow correctness emulator for tests.</summary>
    IlgpuCpu,

    /// <summary>ILGPU kernels on an OpenCL 2.0+ GPU (generic address space required).</summary>
    OpenCl,
}

/// <summary>Parses and names backends as the command line and configs spell them.</summary>
public static class BackendNames
{
    /// <summary>The accepted spellings, for help texts and error messages.</summary>
    public const string Accepted = "auto, cpu, cuda, ilgpu-cpu, opencl";

    /// <summary>Parses a backend name; <c>null</c> means "auto" (CUDA when present, else CPU).</summary>
    public static Backend? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "cpu" => Backend.Cpu,
        "cuda" => Backend.Cuda,
        "ilgpu-cpu" => Backend.IlgpuCpu,
        "opencl" => Backend.OpenCl,
        _ => throw new ArgumentException($"Unknown backend '{name}'. Use one of: {Accepted}."),
    };

    /// <summary>The command-line spelling of a backend.</summary>
    public static string Name(this Backend backend) => backend switch
    {
        Backend.Cpu => "cpu",
        Backend.Cuda => "cuda",
        Backend.IlgpuCpu => "ilgpu-cpu",
        Backend.OpenCl => "opencl",
        _ => throw new ArgumentOutOfRangeException(nameof(backend)),
    };
}
