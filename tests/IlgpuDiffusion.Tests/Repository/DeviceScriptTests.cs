using System.ComponentModel;
using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using IlgpuDiffusion.Cli;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Repository;

/// <summary>
/// The scripts of tools/device run on a GPU machine lent for minutes: a command line they cannot parse, or a test class
/// they name that no longer exists (xunit then runs nothing and says so only in passing), would spend that time for
/// nothing. Every CLI line of the scripts, for each precision their loops take, parses as the CLI parses it, and every
/// class and namespace their xunit lines name holds tests, and the PyTorch yardstick defines every option they give it.
/// Skipped where the sources are absent.
/// </summary>
public sealed partial class DeviceScriptTests
{
    private static readonly string[] Precisions = ["tf32", "bf16", "fp32"];

    [SkippableFact]
    public void Every_command_line_of_the_device_scripts_parses()
    {
        var lines = CliLines().ToList();
        Assert.True(lines.Count >= 15, $"Only {lines.Count} CLI lines found in the scripts: are they still read right?");
        foreach (string line in lines)
        {
            // $small as the scripts set it, ${NAME:-value} as the shell gives it where NAME is unset
            string[] args = ShellDefault().Replace(line.Replace("$small", "--preset small --batch 8", StringComparison.Ordinal), "$1")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var errors = CliApplication.Parse(args).Errors;
            Assert.True(errors.Count == 0, $"'{string.Join(' ', args)}': {string.Join("; ", errors.Select(e => e.Message))}");
        }
    }

    [SkippableFact]
    public void Every_test_class_and_namespace_the_device_scripts_name_holds_tests()
    {
        var testTypes = typeof(DeviceScriptTests).Assembly.GetTypes()
            .Where(type => type.GetMethods().Any(method => method.GetCustomAttributes<FactAttribute>().Any())).ToList();
        var named = XunitFilter().Matches(Script()).Select(match => (Kind: match.Groups[1].Value, Name: match.Groups[2].Value))
            .ToList();
        Assert.Contains(named, filter => filter.Kind == "class");
        foreach (var (kind, name) in named)
            Assert.True(kind == "class" ? testTypes.Any(type => type.FullName == name) : testTypes.Any(type => type.Namespace == name),
                $"A device script's -{kind} {name} names no test {kind} of this assembly.");
    }

    /// <summary>The PyTorch yardstick cannot run here (no PyTorch), but the options the scripts give it must be its own.</summary>
    [SkippableFact]
    public void Every_option_the_device_scripts_give_the_pytorch_yardstick_is_one_it_defines()
    {
        string root = SourceRulesTests.RepositoryRoot();
        var defined = ArgumentDefinition().Matches(File.ReadAllText(Path.Combine(root, "bench", "torch", "dit_step.py")))
            .Select(match => match.Groups[1].Value).ToHashSet();
        var given = TorchInvocation().Matches(Script())
            .SelectMany(match => match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(token => token.StartsWith("--", StringComparison.Ordinal)).ToList();
        Assert.True(given.Count >= 5, $"Only {given.Count} options given to dit_step.py found: are the scripts still read right?");
        Assert.All(given, option => Assert.Contains(option, defined));
    }

    /// <summary>
    /// Nsight Compute profiles what its kernel-name regexes pick, and a regex that picks nothing profiles nothing without
    /// failing: every kernel name they spell (ILGPU names a kernel's entry Kernel_ and its method's name) is a kernel's.
    /// </summary>
    [SkippableFact]
    public void Every_kernel_the_device_scripts_profile_is_one_of_ours()
    {
        var kernels = KernelRegistry.All().Select(kernel => kernel.Method.Name).ToHashSet();
        var named = NcuKernels().Matches(Script()).SelectMany(match => match.Groups[1].Value.Split('|')).ToList();
        Assert.True(named.Count >= 5, $"Only {named.Count} kernels named for ncu found: are the scripts still read right?");
        Assert.All(named, name => Assert.Contains(name, kernels));
    }

    /// <summary>
    /// ncu-stalls.py, which the ncu phase runs on each kernel's source page, sums the stall reasons over a kernel and ranks
    /// its instructions by samples, on a page in the layout Nsight Compute prints (warnings before it, a block per kernel).
    /// </summary>
    [SkippableFact]
    public void The_stall_summary_ranks_reasons_and_instructions_per_kernel()
    {
        using var temp = new TempDirectory();
        string page = temp.Write("source.csv", string.Join('\n',
            "==WARNING== a line of the profiler's own",
            "\"Kernel Name\",\"Kernel_KeyValue\",",
            "\"Address\",\"Source\",\"Warp Stall Sampling (All Samples)\",\"Instructions Executed\",\"stall_barrier\",\"stall_long_sb\"," +
            "\"stall_long_sb (Not Issued)\"",
            "\"0x7f0000000100\",\"  HMMA.16816.F32.BF16 R4, R8, R12, R4 \",\"10\",\"64\",\"0\",\"10\",\"99\"",
            "\"0x7f0000000110\",\"  BAR.SYNC 0x0 \",\"30\",\"8\",\"30\",\"0\",\"0\"",
            "\"Kernel Name\",\"Kernel_Query\",",
            "\"Address\",\"Source\",\"Warp Stall Sampling (All Samples)\",\"Instructions Executed\",\"stall_barrier\",\"stall_long_sb\"",
            "\"0x7f0000000200\",\"  LDG.E.128 R4, [R2.64] \",\"5\",\"16\",\"1\",\"4\""));
        string script = Path.Combine(SourceRulesTests.RepositoryRoot(), "tools", "device", "ncu-stalls.py");
        Process run;
        try
        {
            run = Process.Start(new ProcessStartInfo("python3", [script, page, "1"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
        }
        catch (Win32Exception)
        {
            throw new SkipException("python3 is not on the PATH.");
        }
        using (run)
        {
            string output = run.StandardOutput.ReadToEnd();
            run.WaitForExit();
            Assert.True(run.ExitCode == 0, run.StandardError.ReadToEnd());
            string[] kernels = output.Split("## ", StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, kernels.Length);
            Assert.StartsWith("Kernel_KeyValue", kernels[0]);
            Assert.Contains("2 instructions, 40 warp-stall samples.", kernels[0]);
            Assert.Contains("| stall_barrier | 75.0% |", kernels[0]);
            Assert.Contains("| stall_long_sb | 25.0% |", kernels[0]);
            Assert.DoesNotContain("Not Issued", output); // a subset of the samples, not a reason of its own
            Assert.Contains("| 0x10 | 30 | 75.0% | 8 | barrier 100% | `BAR.SYNC 0x0` |", kernels[0]);
            Assert.DoesNotContain("HMMA", kernels[0]); // one instruction asked for: the hottest
            Assert.Contains("| 0x0 | 5 | 100.0% | 16 | long_sb 80%, barrier 20% | `LDG.E.128 R4, [R2.64]` |", kernels[1]);
        }
    }

    /// <summary>The scripts' CLI invocations, once per precision where they take one.</summary>
    private static IEnumerable<string> CliLines()
    {
        foreach (Match match in CliInvocation().Matches(Script()))
        {
            string line = match.Groups[1].Value.Trim();
            if (!line.Contains("$precision", StringComparison.Ordinal)) yield return line;
            else foreach (string precision in Precisions) yield return line.Replace("$precision", precision, StringComparison.Ordinal);
        }
    }

    /// <summary>The scripts of tools/device, one after another, each command's continuation lines joined into one.</summary>
    private static string Script() => string.Join("\n",
        Directory.EnumerateFiles(Path.Combine(SourceRulesTests.RepositoryRoot(), "tools", "device"), "*.sh")
            .Order(StringComparer.Ordinal).Select(File.ReadAllText)).Replace("\\\n", " ", StringComparison.Ordinal);

    /// <summary>From <c>$cli</c> to the end of the command: a semicolon or the end of the line.</summary>
    [GeneratedRegex(@"\$\{\w+:-([^}]*)\}")]
    private static partial Regex ShellDefault();

    [GeneratedRegex(@"\$cli ([^;\n]+)")]
    private static partial Regex CliInvocation();

    /// <summary>From <c>python3 ".../dit_step.py"</c> to the end of the command (comments name it without python3).</summary>
    [GeneratedRegex(@"python3 ""[^""]*dit_step\.py"" ([^;\n]+)")]
    private static partial Regex TorchInvocation();

    [GeneratedRegex(@"add_argument\(""(--[\w-]+)""")]
    private static partial Regex ArgumentDefinition();

    /// <summary>An anchored kernel-name regex, one name or a group of alternatives: <c>'^Kernel_(A|B)$'</c>.</summary>
    [GeneratedRegex(@"'\^Kernel_\(?([\w|]+)\)?\$'")]
    private static partial Regex NcuKernels();

    [GeneratedRegex(@"-(class|namespace) (IlgpuDiffusion\.Tests[\w.]*)")]
    private static partial Regex XunitFilter();
}
