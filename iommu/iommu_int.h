/*
 * iommu_int.h - internals shared by the files of iommu/.  Never included
 * outside iommu/ (other modules use iommu/iommu.h).
 */
#ifndef PROTSIM_IOMMU_INT_H
#define PROTSIM_IOMMU_INT_H

#include "iommu/iommu.h"
#include "rmp/rmp.h"
#include "stage2/s2.h"
#include "stage2/tlb.h"

/* The IO table pool: bump allocation, freed pages reused last-in first-out. */
struct iommu_pool {
	uint64_t base;           /* first byte of the region */
	uint64_t size;           /* bytes */
	uint64_t next;           /* next never-used page */
	uint64_t *free;          /* freed pages (a stack) */
	size_t nfree;            /* pages on it */
	size_t cap;              /* its capacity */
};

/* One device-table entry (the DTE fields the model uses). */
struct iommu_dte {
	bool valid;              /* attached */
	enum iommu_mode mode;
	int vm;                  /* owner recorded at attach (-1: host) */
	uint16_t domain;         /* domain id (= device id, see docs) */
	struct s2_pgt *table;    /* snp: own IO table; stage2: the owner's; passthrough: NULL */
	bool own_table;          /* table is ours to free */
};

/* Payload of an IOTLB entry. */
struct iommu_iotlb_ent {
	uint64_t pa;             /* output base of the leaf */
	uint8_t perms;           /* S2_PERM_* granted */
};

/* Context of one DMA agent. */
struct iommu_agent {
	struct iommu *io;
	struct iommu_dma_desc *descs;
	size_t n;
	struct iommu_agent *next;   /* list owned by the model, freed with it */
};

struct iommu {
	struct sim_mem *mem;
	struct iommu_config cfg;
	struct rmp *rmp;              /* NULL: no RMP checks */
	iommu_vm_table_fn vm_table;   /* VM number -> nested table (iommu_set_vm_tables) */
	unsigned modes;               /* the modes attach accepts (iommu_set_modes) */
	void *vm_table_arg;
	struct iommu_dte *dte;        /* cfg.devices entries */
	struct iommu_pool pool;
	struct s2_mm_ops mm;          /* allocator handed to the IO tables */
	struct iommu_page_source src; /* the host's allocator (iommu_set_page_source), or none */
	bool has_src;
	struct tlb *iotlb;            /* NULL when iotlb_ways == 0 */
	unsigned log_head;            /* next slot software reads */
	unsigned log_tail;            /* next slot hardware writes */
	bool log_stopped;             /* overflowed; restarts when drained */
	struct iommu_agent *agents;
	struct rmp_fault host_fault;  /* the last refused host store (IOMMU_ERR_RMP) */
	bool host_faulted;            /* host_fault is set */
	struct iommu_counters ctr;
};

#endif /* PROTSIM_IOMMU_INT_H */
