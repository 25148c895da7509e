//! Adapter discovery and choice: prefer a real GPU, fall back to a software adapter with a
//! warning, or take the one the user names.

use crate::error::{Error, Result};

/// The environment variable that names an adapter when no name is passed explicitly.
pub const ADAPTER_ENV: &str = "LANGEVIN_ADAPTER";

/// One adapter wgpu can see, as `langevin adapters` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    /// The adapter's name (e.g. `NVIDIA H100 80GB HBM3`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// The API it is driven through (`Vulkan`, `Metal`, `Dx12`, `Gl`).
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` (a software adapter) or `Other`.
    pub device_type: String,
    /// The driver's name and version, where the backend reports them.
    pub driver: String,
    /// Whether [`crate::Gpu::new`] with no name would pick this adapter.
    pub is_default: bool,
}

/// Which backends to search: `WGPU_BACKEND` if set, else Vulkan, Metal and DX12.
pub(crate) fn backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY)
}

pub(crate) fn instance() -> wgpu::Instance {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    descriptor.backends = backends();
    wgpu::Instance::new(descriptor)
}

/// Lower is better: real GPUs before virtual ones before software; native APIs before GL.
fn preference(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let api = u8::from(info.backend == wgpu::Backend::Gl);
    (kind, api)
}

pub(crate) fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

fn summarise(adapters: &[wgpu::Adapter]) -> String {
    if adapters.is_empty() {
        return "none".to_owned();
    }
    adapters
        .iter()
        .map(|a| describe(&a.get_info()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index of the best-ranked adapter whose name contains `name` (case-insensitive), or of
/// the best-ranked of all when `name` is `None`; the first of equals wins.
fn pick(infos: &[wgpu::AdapterInfo], name: Option<&str>) -> Option<usize> {
    let wanted = name.map(str::to_lowercase);
    infos
        .iter()
        .enumerate()
        .filter(|(_, info)| match &wanted {
            Some(w) => info.name.to_lowercase().contains(w.as_str()),
            None => true,
        })
        .min_by_key(|(_, info)| preference(info))
        .map(|(i, _)| i)
}

/// Picks an adapter: the best-ranked one whose name contains `name` (case-insensitive), or the
/// best-ranked of all when `name` is `None`.
pub(crate) fn choose(
    mut adapters: Vec<wgpu::Adapter>,
    name: Option<&str>,
) -> Result<wgpu::Adapter> {
    if adapters.is_empty() {
        return Err(no_adapter());
    }
    let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(wgpu::Adapter::get_info).collect();
    // Only a name can filter a non-empty list down to nothing.
    match pick(&infos, name) {
        Some(i) => Ok(adapters.swap_remove(i)),
        None => Err(Error::AdapterNotFound {
            requested: name.unwrap_or_default().to_owned(),
            found: summarise(&adapters),
        }),
    }
}

fn no_adapter() -> Error {
    Error::NoAdapter {
        backends: format!("{:?}", backends()),
    }
}

/// Every adapter wgpu finds on this machine, best first, the default marked; an
/// [`Error::NoAdapter`] saying what to install when there is none.
pub fn list_adapters() -> Result<Vec<AdapterSummary>> {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(backends()));
    if adapters.is_empty() {
        return Err(no_adapter());
    }
    adapters.sort_by_key(|a| preference(&a.get_info()));
    Ok(adapters
        .iter()
        .enumerate()
        .map(|(rank, adapter)| {
            let info = adapter.get_info();
            AdapterSummary {
                name: info.name.clone(),
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_owned(),
                is_default: rank == 0,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        name: &str,
        device_type: wgpu::DeviceType,
        backend: wgpu::Backend,
    ) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.to_owned(),
            vendor: 0,
            device: 0,
            device_type,
            device_pci_bus_id: String::new(),
            driver: String::new(),
            driver_info: String::new(),
            backend,
            subgroup_min_size: 0,
            subgroup_max_size: 0,
            transient_saves_memory: None,
            limit_bucket: None,
        }
    }

    /// A discrete GPU before an integrated one before a virtual one before software; Vulkan
    /// before GL for the same device; a name picks among its matches by the same ranking.
    #[test]
    fn adapters_are_ranked_by_kind_then_api_and_a_name_filters() {
        use wgpu::{Backend, DeviceType};
        let infos = [
            info("llvmpipe (LLVM 15)", DeviceType::Cpu, Backend::Vulkan),
            info("Intel UHD 770", DeviceType::IntegratedGpu, Backend::Vulkan),
            info("NVIDIA H100 (GL)", DeviceType::DiscreteGpu, Backend::Gl),
            info("NVIDIA H100", DeviceType::DiscreteGpu, Backend::Vulkan),
            info("virgl", DeviceType::VirtualGpu, Backend::Vulkan),
        ];
        assert_eq!(pick(&infos, None), Some(3));
        assert_eq!(pick(&infos, Some("nvidia")), Some(3));
        assert_eq!(pick(&infos, Some("LLVMPIPE")), Some(0));
        assert_eq!(pick(&infos, Some("amd")), None);
        assert_eq!(
            pick(&infos[..3], None),
            Some(2),
            "a GPU on GL before an integrated one"
        );
        assert_eq!(pick(&infos[..2], None), Some(1));
        assert_eq!(pick(&[infos[0].clone(), infos[4].clone()], None), Some(1));
    }
}
