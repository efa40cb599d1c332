package registry

import (
	"context"
	"fmt"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
)

// distribution finds its storage driver by name in a global, init-time
// factory table, and handlers.NewApp builds the driver from configuration
// parameters alone. To hand it a driver built here for one bundle, this
// package registers a single factory, named driverName, the first time New
// runs; New puts its driver in pending under a fresh id, passes the id as
// the "instance" storage parameter, and removes the entry as soon as NewApp
// returns. The factory only looks the id up. Nothing else is global, so any
// number of registries (over the same or different bundles) can live in one
// process.
var (
	registerOnce sync.Once
	pending      sync.Map // instance id -> storagedriver.StorageDriver
)

// instanceParam is the storage parameter that carries the instance id
// (distribution wants parameter keys of lowercase letters and digits).
const instanceParam = "instance"

type driverFactory struct{}

func (driverFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	id, _ := params[instanceParam].(string)
	d, ok := pending.Load(id)
	if !ok {
		return nil, fmt.Errorf("%s storage driver: no registry instance %q is being created (use registry.New, not a configuration file)", driverName, id)
	}
	return d.(storagedriver.StorageDriver), nil
}

func registerFactory() {
	registerOnce.Do(func() { factory.Register(driverName, driverFactory{}) })
}
