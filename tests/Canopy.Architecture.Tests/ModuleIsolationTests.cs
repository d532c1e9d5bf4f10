using System.Reflection;
using NetArchTest.Rules;

namespace Canopy.Architecture.Tests;

public sealed class ModuleIsolationTests
{
    /// <summary>What a module's Domain may never use: the web framework, the ORM, the driver, the generated contracts.</summary>
    private static readonly string[] Infrastructure = ["Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore", "Npgsql", "Canopy.Contracts"];

    /// <summary>Every module under src/Modules, as its compiled assembly (Canopy.&lt;Folder&gt;).</summary>
    public static TheoryData<string> Modules() => new(ModuleNames());

    private static string[] ModuleNames() =>
        Directory.GetDirectories(Path.Combine(RepoRoot(), "src", "Modules")).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [MemberData(nameof(Modules))]
    public void Given_a_module_Then_it_uses_no_code_of_another_module(string module)
    {
        var others = ModuleNames().Where(m => m != module).Select(m => $"Canopy.{m}").ToArray();

        Assert.NotEmpty(others);
        var result = Types.InAssembly(Load(module)).ShouldNot().HaveDependencyOnAny(others).GetResult();

        Assert.True(result.IsSuccessful, Explain($"Canopy.{module} uses code of another module ({string.Join(", ", others)}); react to its events or call its public contract instead", result));
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void Given_a_module_Then_its_domain_uses_no_framework_orm_driver_or_generated_contract(string module)
    {
        var domain = Types.InAssembly(Load(module)).That().ResideInNamespace($"Canopy.{module}.Domain");
        Assert.NotEmpty(domain.GetTypes());

        var result = domain.ShouldNot().HaveDependencyOnAny(Infrastructure).GetResult();

        Assert.True(result.IsSuccessful, Explain($"Canopy.{module}.Domain must stay plain C# (no {string.Join(", ", Infrastructure)})", result));
    }

    [Fact]
    public void Given_the_platform_Then_it_uses_no_module()
    {
        var modules = ModuleNames().Select(m => $"Canopy.{m}").ToArray();

        var result = Types.InAssembly(typeof(Canopy.Platform.Problems.ProblemFactory).Assembly).ShouldNot().HaveDependencyOnAny(modules).GetResult();

        Assert.True(result.IsSuccessful, Explain("The shared kernel must not know the modules", result));
    }

    /// <summary>The rules bite: a domain type that uses ASP.NET Core and another module's code is caught by both.</summary>
    [Fact]
    public void Given_a_domain_type_that_breaks_both_rules_Then_both_rules_name_it()
    {
        var offenders = Types.InAssembly(typeof(ModuleIsolationTests).Assembly).That().ResideInNamespace("Canopy.Architecture.Tests.Offender.Domain");

        var framework = offenders.ShouldNot().HaveDependencyOnAny(Infrastructure).GetResult();
        var crossModule = Types.InAssembly(typeof(ModuleIsolationTests).Assembly).That().ResideInNamespace("Canopy.Architecture.Tests.Offender.Domain")
            .ShouldNot().HaveDependencyOnAny("Canopy.Fleet").GetResult();

        Assert.False(framework.IsSuccessful);
        Assert.False(crossModule.IsSuccessful);
        Assert.Contains(framework.FailingTypeNames, n => n.EndsWith(".LeakyRule", StringComparison.Ordinal));
        Assert.Contains(crossModule.FailingTypeNames, n => n.EndsWith(".LeakyRule", StringComparison.Ordinal));
    }

    private static Assembly Load(string module) => Assembly.Load($"Canopy.{module}");

    private static string Explain(string rule, TestResult result) =>
        $"{rule}: {string.Join(", ", result.FailingTypeNames ?? [])}";

    private static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Canopy.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (Canopy.slnx) is not above the test's folder.");
    }
}
