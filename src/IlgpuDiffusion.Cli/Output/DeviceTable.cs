using System.Globalization;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using Spectre.Console;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>The devices this machine offers, by their <c>--device</c> names, and which one <c>auto</c> picks.</summary>
internal static class DeviceTable
{
    /// <summary>A table of the SIMD CPU backend and every ILGPU accelerator found.</summary>
    public static Table Create()
    {
        var table = new Table { Title = new TableTitle("Devices"), Border = TableBorder.Rounded };
        table.AddColumn("--device");
        table.AddColumn("description");
        using (Device cpu = Device.Create(Backend.Cpu)) table.AddRow("cpu", Markup.Escape(cpu.Description));
        foreach (ILGPU.Runtime.Device device in IlgpuRuntime.Context.Devices)
        {
            string name = device.AcceleratorType switch
            {
                AcceleratorType.Cuda => Backend.Cuda.Name(),
                AcceleratorType.OpenCL => Backend.OpenCl.Name(),
                _ => Backend.IlgpuCpu.Name(),
            };
            string memory = device.AcceleratorType == AcceleratorType.CPU
                ? "ILGPU's CPU emulator, for kernel tests only"
                : string.Create(CultureInfo.InvariantCulture, $"{device.MemorySize / (1024.0 * 1024 * 1024):F1} GiB");
            table.AddRow(name, Markup.Escape($"{device.Name}, {memory}"));
        }
        table.Caption = new TableTitle($"auto picks {(IlgpuRuntime.HasCuda ? Backend.Cuda : Backend.Cpu).Name()}");
        return table;
    }
}
